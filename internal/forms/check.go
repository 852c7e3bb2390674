package forms

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sourcegraph/lifecycle/internal/spec"
)

// Field labels shared by several forms (the new-instance ones are in newinstance.go).
const (
	// FieldReason is free text for the audit trail (required on suspend, teardown and extend).
	FieldReason = "Reason"
)

// Limits on free text, so a comment or a workflow input never carries a novel.
const (
	maxReason = 2000 // runes
	maxLine   = 200  // runes, one-line answers such as the customer name
)

// dateLayout is how every date field is written.
const dateLayout = "2006-01-02"

const requiredFix = "is required; edit the issue and fill it in"

// checker reads a form's fields and collects every problem, in form order.
type checker struct {
	f    Fields
	errs Errors
}

func (c *checker) err() error { return c.errs.Err() }

// add records a problem. Field errors are made safe to quote in a Markdown comment: the echoed
// value is one line, without backticks, and short.
func (c *checker) add(err error) {
	if err == nil {
		return
	}
	var fe *spec.FieldError
	if errors.As(err, &fe) {
		err = &spec.FieldError{Field: fe.Field, Value: displayValue(fe.Value), Fix: oneLine(fe.Fix)}
	}
	c.errs = append(c.errs, err)
}

func (c *checker) fail(label, value, fix string) {
	c.add(&spec.FieldError{Field: label, Value: value, Fix: fix})
}

// opt returns a field's answer, "" when empty or absent.
func (c *checker) opt(label string) string {
	v, _ := c.f.Get(label)
	return v
}

// req returns a field's answer and reports it when empty or absent.
func (c *checker) req(label string) string {
	v, ok := c.f.Get(label)
	if !ok || v == "" {
		c.fail(label, "", requiredFix)
	}
	return v
}

func (c *checker) get(label string, required bool) string {
	if required {
		return c.req(label)
	}
	return c.opt(label)
}

// line reads a one-line answer of at most maxLine characters.
func (c *checker) line(label string, required bool) string {
	v := c.get(label, required)
	switch {
	case strings.ContainsAny(v, "\n"):
		c.fail(label, v, "must be a single line")
	case utf8.RuneCountInString(v) > maxLine:
		c.fail(label, "", fmt.Sprintf("must be at most %d characters", maxLine))
	}
	return v
}

// text reads a free-text answer such as a reason.
func (c *checker) text(label string, required bool) string {
	v := c.get(label, required)
	if utf8.RuneCountInString(v) > maxReason {
		c.fail(label, "", fmt.Sprintf("must be at most %d characters; link a document for the details", maxReason))
	}
	return v
}

// slug reads the Slug of an instance that already exists. The name people most often paste
// instead is the instance's hostname, so that gets a pointed fix.
func (c *checker) slug() string {
	v := c.req(FieldSlug)
	if v == "" {
		return ""
	}
	err := spec.ValidateSlug(FieldSlug, v)
	if err != nil && strings.ContainsAny(v, "./:") {
		host := strings.TrimPrefix(strings.TrimPrefix(v, "https://"), "http://")
		if first, _, _ := strings.Cut(host, "."); spec.ValidateSlug(FieldSlug, first) == nil {
			err = &spec.FieldError{Field: FieldSlug, Value: v, Fix: fmt.Sprintf("write the instance's slug, not its address: `%s` (the Name column on go/cloud-ops)", first)}
		}
	}
	c.add(err)
	return v
}

// date reads a YYYY-MM-DD date.
func (c *checker) date(label string, required bool) (string, time.Time) {
	v := c.get(label, required)
	if v == "" {
		return "", time.Time{}
	}
	t, err := time.Parse(dateLayout, v)
	if err != nil {
		c.fail(label, v, "must be a date written YYYY-MM-DD, e.g. `2026-11-20`")
	}
	return v, t
}

// version reads a Sourcegraph release version such as 5.9.0 (no v prefix).
func (c *checker) version(label string, required bool) string {
	v := c.get(label, required)
	if v == "" {
		return ""
	}
	if !onlyRunes(v, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-+") {
		c.fail(label, v, "must be a full release version such as `5.9.0` or `5.9.0-rc.1`")
		return v
	}
	c.add(spec.ValidateVersion(label, v))
	return v
}

// number reads a whole number in [lo, hi]; a trailing unit word (unit, or unit+"s") is allowed,
// e.g. "15 days". An empty optional answer gives def.
func (c *checker) number(label string, required bool, lo, hi, def int, unit string) int {
	v := c.get(label, required)
	if v == "" {
		return def
	}
	s := strings.TrimSpace(v)
	if unit != "" {
		if low := strings.ToLower(s); strings.HasSuffix(low, unit+"s") {
			s = strings.TrimSpace(s[:len(s)-len(unit)-1])
		} else if strings.HasSuffix(low, unit) {
			s = strings.TrimSpace(s[:len(s)-len(unit)])
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi || strings.HasPrefix(s, "+") {
		c.fail(label, v, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

// cidrs reads a list of IP ranges, reporting each bad entry (a range with host bits set names the
// network address to confirm with the customer) and each duplicate. Ranges come
// back in canonical form (lower-case IPv6, no leading zeros).
func (c *checker) cidrs(label string, required bool) []string {
	v := c.get(label, required)
	items := ParseList(v)
	if required && v != "" && len(items) == 0 {
		c.fail(label, "", "list at least one range in CIDR notation, e.g. `203.0.113.0/24`")
	}
	var out []string
	seen := map[string]bool{}
	for _, item := range items {
		if !onlyRunes(item, "0123456789abcdefABCDEF.:/") {
			c.fail(label, item, "must be an IPv4 or IPv6 range in CIDR notation, e.g. `203.0.113.0/24`")
			continue
		}
		if err := spec.ValidatePublicCIDR(label, item); err != nil {
			c.add(err)
			continue
		}
		canon := netip.MustParsePrefix(item).String()
		if seen[canon] {
			c.fail(label, item, "is listed twice")
			continue
		}
		seen[canon] = true
		out = append(out, canon)
	}
	return out
}

// confirm reads a checkboxes field whose one option must be ticked.
func (c *checker) confirm(label, option string) bool {
	if !c.f.Checked(label, option) {
		c.fail(label, "", fmt.Sprintf("tick “%s” to confirm; the request does not start without it", option))
		return false
	}
	return true
}

// yesNo reads a Yes/No answer; empty is No.
func (c *checker) yesNo(label string) bool {
	switch v := strings.ToLower(c.opt(label)); v {
	case "", "no", "disabled", "false":
		return false
	case "yes", "enabled", "true":
		return true
	default:
		c.fail(label, v, "must be Yes or No")
		return false
	}
}

func onlyRunes(s, allowed string) bool {
	for _, r := range s {
		if !strings.ContainsRune(allowed, r) {
			return false
		}
	}
	return true
}

// displayValue makes an answer safe to quote inside a Markdown code span in a comment.
func displayValue(v string) string {
	v = strings.ReplaceAll(oneLine(v), "`", "'")
	if r := []rune(v); len(r) > 60 {
		v = string(r[:59]) + "…"
	}
	return v
}

// oneLine collapses control characters (newlines included) to single spaces.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

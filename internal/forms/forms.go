// Package forms parses the bodies GitHub renders from issue forms ("### Label" sections, with
// "_No response_" for fields left empty) into typed, validated requests.
package forms

import (
	"errors"
	"strings"
)

// NoResponse is what GitHub writes for an optional field left empty.
const NoResponse = "_No response_"

// Fields are the form's answers by label, in the order they appear.
type Fields struct {
	labels []string
	values map[string]string
}

// Parse splits an issue-form body into its fields. Text before the first heading is ignored.
func Parse(body string) Fields {
	f := Fields{values: map[string]string{}}
	body = strings.ReplaceAll(body, "\r\n", "\n")
	var label string
	var value []string
	flush := func() {
		if label == "" {
			return
		}
		v := strings.TrimSpace(strings.Join(value, "\n"))
		if v == NoResponse {
			v = ""
		}
		if _, dup := f.values[label]; !dup {
			f.labels = append(f.labels, label)
			f.values[label] = v
		}
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "### ") {
			flush()
			label, value = strings.TrimSpace(strings.TrimPrefix(line, "### ")), nil
			continue
		}
		value = append(value, line)
	}
	flush()
	return f
}

// Get returns a field's answer ("" if empty or absent) and whether the field was present.
func (f Fields) Get(label string) (string, bool) {
	v, ok := f.values[label]
	return v, ok
}

// Labels lists the fields in form order.
func (f Fields) Labels() []string { return f.labels }

// Errors collects every field problem, so the requester fixes them all in one edit.
type Errors []error

func (e Errors) Error() string {
	msgs := make([]string, len(e))
	for i, err := range e {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

// Err returns nil when there were no problems.
func (e Errors) Err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

// Markdown renders the problems as a bullet list for an issue comment.
func Markdown(err error) string {
	var errs Errors
	if !errors.As(err, &errs) {
		return "- " + err.Error()
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("- " + e.Error() + "\n")
	}
	return b.String()
}

// ParseList splits a free-text list answer: one item per line or comma-separated, markdown bullets
// ("- ", "* ") and blank lines dropped.
func ParseList(v string) []string {
	var out []string
	for _, item := range strings.FieldsFunc(v, func(c rune) bool { return c == '\n' || c == ',' }) {
		item = strings.TrimSpace(item)
		item = strings.TrimSpace(strings.TrimLeft(item, "-*"))
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

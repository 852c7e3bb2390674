// Package forms parses the bodies GitHub renders from issue forms ("### Label" sections, with
// "_No response_" for fields left empty) into typed, validated requests.
//
// Each form in .github/ISSUE_TEMPLATE has a request label, an Operation and a parser here; the
// field labels in the YAML are the Field* constants (templates_test.go keeps them from drifting).
// A parser reports every bad field at once, each as a *spec.FieldError that names the field and
// the fix, and returns an error whenever any field is bad, so invalid input never becomes a
// request (docs/design.md invariant 9).
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
	// reads, when set (tests only), records which labels and checkbox options a parser reads.
	reads *readLog
}

type readLog struct {
	labels  map[string]bool
	options map[string]map[string]bool // label -> checkbox option
}

func (f Fields) noteRead(label string) {
	if f.reads != nil {
		f.reads.labels[label] = true
	}
}

func (f Fields) noteOption(label, option string) {
	if f.reads != nil {
		if f.reads.options[label] == nil {
			f.reads.options[label] = map[string]bool{}
		}
		f.reads.options[label][option] = true
	}
}

// Parse splits an issue-form body into its fields. Text before the first heading is ignored, and
// so are "### " lines inside fenced code blocks (a pasted log in a textarea is not a new field).
// When a label appears twice the first answer wins (the form's own section precedes anything typed
// into later fields).
func Parse(body string) Fields {
	f := Fields{values: map[string]string{}}
	body = strings.TrimPrefix(body, "\ufeff")
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	var label string
	var value []string
	var fence string // the open code fence's marker ("```" or "~~~"), "" outside one
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
		if fence == "" && strings.HasPrefix(line, "### ") {
			flush()
			label, value = strings.TrimSpace(strings.TrimPrefix(line, "### ")), nil
			continue
		}
		if marker := fenceMarker(line); marker != "" && (fence == "" || strings.HasPrefix(marker, fence)) {
			if fence == "" {
				fence = marker[:3]
			} else {
				fence = ""
			}
		}
		value = append(value, line)
	}
	flush()
	return f
}

// fenceMarker returns the run of backticks or tildes opening a fenced code block on this line
// (CommonMark: up to three spaces of indentation, then at least three of the same character).
func fenceMarker(line string) string {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 || len(t) < 3 {
		return ""
	}
	c := t[0]
	if c != '`' && c != '~' {
		return ""
	}
	n := 0
	for n < len(t) && t[n] == c {
		n++
	}
	if n < 3 {
		return ""
	}
	return t[:n]
}

// Get returns a field's answer ("" if empty or absent) and whether the field was present.
func (f Fields) Get(label string) (string, bool) {
	f.noteRead(label)
	v, ok := f.values[label]
	return v, ok
}

// Labels lists the fields in form order.
func (f Fields) Labels() []string { return f.labels }

// Checked reports whether the checkboxes field label has option ticked ("- [X] option"; GitHub
// writes an upper-case X, people editing the issue often write a lower-case one). Options are
// matched ignoring case and runs of white space.
func (f Fields) Checked(label, option string) bool {
	f.noteOption(label, option)
	v, _ := f.Get(label)
	for _, c := range ParseCheckboxes(v) {
		if c.Checked && sameOption(c.Label, option) {
			return true
		}
	}
	return false
}

// Checkbox is one "- [X] label" or "- [ ] label" line of a checkboxes field.
type Checkbox struct {
	Label   string
	Checked bool
}

// ParseCheckboxes reads the task-list lines of a checkboxes answer; other lines are ignored.
func ParseCheckboxes(v string) []Checkbox {
	var out []Checkbox
	for _, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if len(line) < 2 || (line[0] != '-' && line[0] != '*' && line[0] != '+') {
			continue
		}
		line = strings.TrimLeft(line[1:], " \t")
		if len(line) < 3 || line[0] != '[' || line[2] != ']' {
			continue
		}
		var checked bool
		switch line[1] {
		case 'x', 'X':
			checked = true
		case ' ':
		default:
			continue
		}
		out = append(out, Checkbox{Label: strings.TrimSpace(line[3:]), Checked: checked})
	}
	return out
}

func sameOption(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

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

// Markdown renders the problems as a bullet list for an issue comment, one problem per line.
func Markdown(err error) string {
	var errs Errors
	if !errors.As(err, &errs) {
		return "- " + oneLine(err.Error())
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("- " + oneLine(e.Error()) + "\n")
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

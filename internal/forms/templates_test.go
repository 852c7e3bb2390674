package forms

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// templateDir holds the issue forms, relative to this package.
const templateDir = "../../.github/ISSUE_TEMPLATE"

// issueForm is GitHub's issue-form schema, as much of it as the forms use. Decoding is strict, so
// a misspelt key fails the test instead of being silently ignored by GitHub.
type issueForm struct {
	Name        string     `yaml:"name"`
	Description string     `yaml:"description"`
	Title       string     `yaml:"title"`
	Labels      []string   `yaml:"labels"`
	Assignees   []string   `yaml:"assignees"`
	Body        []formItem `yaml:"body"`

	file string
}

type formItem struct {
	Type       string `yaml:"type"`
	ID         string `yaml:"id"`
	Attributes struct {
		Label       string    `yaml:"label"`
		Description string    `yaml:"description"`
		Placeholder string    `yaml:"placeholder"`
		Value       string    `yaml:"value"`
		Render      string    `yaml:"render"`
		Multiple    bool      `yaml:"multiple"`
		Default     *int      `yaml:"default"`
		Options     yaml.Node `yaml:"options"`
	} `yaml:"attributes"`
	Validations *struct {
		Required bool `yaml:"required"`
	} `yaml:"validations"`
}

type checkboxOption struct {
	Label    string `yaml:"label"`
	Required bool   `yaml:"required"`
}

func (it formItem) field() bool { return it.Type != "markdown" }

func (it formItem) required() bool { return it.Validations != nil && it.Validations.Required }

func (it formItem) dropdownOptions(t testing.TB) []string {
	var opts []string
	if err := it.Attributes.Options.Decode(&opts); err != nil {
		t.Fatalf("%s: dropdown options: %v", it.Attributes.Label, err)
	}
	return opts
}

func (it formItem) checkboxOptions(t testing.TB) []checkboxOption {
	var opts []checkboxOption
	if err := it.Attributes.Options.Decode(&opts); err != nil {
		t.Fatalf("%s: checkbox options: %v", it.Attributes.Label, err)
	}
	return opts
}

func decodeStrict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// loadForms reads every issue form (config.yml is not one).
func loadForms(t testing.TB) []issueForm {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(templateDir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	yamls, _ := filepath.Glob(filepath.Join(templateDir, "*.yaml"))
	if len(yamls) > 0 {
		t.Fatalf("use the .yml extension: %v", yamls)
	}
	var forms []issueForm
	for _, p := range paths {
		if filepath.Base(p) == "config.yml" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var f issueForm
		if err := decodeStrict(b, &f); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		f.file = filepath.Base(p)
		forms = append(forms, f)
	}
	if len(forms) == 0 {
		t.Fatalf("no issue forms in %s", templateDir)
	}
	return forms
}

// opOf is the operation a form's labels ask for.
func (f issueForm) op(t testing.TB) Operation {
	op, ok := ByLabel(f.Labels)
	if !ok {
		t.Fatalf("%s: labels %v must hold exactly one request label of %v", f.file, f.Labels, requestLabels())
	}
	return op
}

func requestLabels() []string {
	var ls []string
	for _, op := range Operations() {
		ls = append(ls, LabelOf(op))
	}
	return ls
}

// fieldItems are the form's fields (markdown blocks are not rendered into the issue body).
func (f issueForm) fieldItems() []formItem {
	var out []formItem
	for _, it := range f.Body {
		if it.field() {
			out = append(out, it)
		}
	}
	return out
}

// answer is how one field is filled in: text for inputs, textareas and dropdowns, the ticked
// options for checkboxes.
type answer struct {
	text    string
	checked map[string]bool
}

// exampleAnswers fills every field from the form's own examples: the placeholder (or prefilled
// value) of inputs and textareas, the default (or first) dropdown option, every checkbox ticked.
func exampleAnswers(t testing.TB, f issueForm) map[string]answer {
	out := map[string]answer{}
	for _, it := range f.fieldItems() {
		a := answer{}
		switch it.Type {
		case "input", "textarea":
			a.text = it.Attributes.Value
			if a.text == "" {
				a.text = it.Attributes.Placeholder
			}
		case "dropdown":
			opts := it.dropdownOptions(t)
			i := 0
			if it.Attributes.Default != nil {
				i = *it.Attributes.Default
			}
			a.text = opts[i]
		case "checkboxes":
			a.checked = map[string]bool{}
			for _, o := range it.checkboxOptions(t) {
				a.checked[o.Label] = true
			}
		}
		out[it.Attributes.Label] = a
	}
	return out
}

// render writes the issue body GitHub renders from a submitted form: "### <label>", a blank
// line, the answer ("_No response_" when empty; "- [X] option" / "- [ ] option" for
// checkboxes), a blank line.
func render(t testing.TB, f issueForm, answers map[string]answer) string {
	var b strings.Builder
	for _, it := range f.fieldItems() {
		label := it.Attributes.Label
		a := answers[label]
		v := strings.TrimSpace(a.text)
		if it.Type == "checkboxes" {
			var lines []string
			for _, o := range it.checkboxOptions(t) {
				mark := " "
				if a.checked[o.Label] {
					mark = "X"
				}
				lines = append(lines, "- ["+mark+"] "+o.Label)
			}
			v = strings.Join(lines, "\n")
		}
		if v == "" {
			v = NoResponse
		}
		b.WriteString("### " + label + "\n\n" + v + "\n\n")
	}
	return b.String()
}

func exampleBody(t testing.TB, f issueForm) string { return render(t, f, exampleAnswers(t, f)) }

// tracedParse parses body as op's form, recording which labels and options the parser reads.
func tracedParse(op Operation, body string) (Request, *readLog, error) {
	r, _ := routeFor(op)
	f := Parse(body)
	f.reads = &readLog{labels: map[string]bool{}, options: map[string]map[string]bool{}}
	req, err := r.parse(f)
	return req, f.reads, err
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func TestIssueFormsAreValidIssueForms(t *testing.T) {
	for _, f := range loadForms(t) {
		t.Run(f.file, func(t *testing.T) {
			if f.Name == "" || f.Description == "" || f.Title == "" {
				t.Errorf("name, description and title are required: %q %q %q", f.Name, f.Description, f.Title)
			}
			if !slices.Contains(f.Labels, TeamLabel) {
				t.Errorf("labels %v must include %s", f.Labels, TeamLabel)
			}
			if ops := OpsByLabel(f.Labels); len(ops) != 1 {
				t.Errorf("labels %v must hold exactly one request label, found %v", f.Labels, ops)
			}
			if len(f.fieldItems()) == 0 {
				t.Fatal("body has no fields")
			}
			ids, labels := map[string]bool{}, map[string]bool{}
			for i, it := range f.Body {
				label := it.Attributes.Label
				switch it.Type {
				case "markdown":
					if it.Attributes.Value == "" || label != "" || it.ID != "" || it.Validations != nil {
						t.Errorf("body[%d]: markdown needs attributes.value and nothing else", i)
					}
					continue
				case "input", "textarea", "dropdown", "checkboxes":
				default:
					t.Errorf("body[%d]: unknown type %q", i, it.Type)
					continue
				}
				if !idRE.MatchString(it.ID) || ids[it.ID] {
					t.Errorf("body[%d]: id %q must be unique and use only letters, digits, - and _", i, it.ID)
				}
				ids[it.ID] = true
				if label == "" || labels[label] || strings.ContainsAny(label, "\n#") || label != strings.TrimSpace(label) {
					t.Errorf("body[%d]: label %q must be set, one line, trimmed and unique", i, label)
				}
				labels[label] = true
				hasOptions := it.Attributes.Options.Kind != 0
				switch it.Type {
				case "input", "textarea":
					if hasOptions {
						t.Errorf("%s: %s takes no options", label, it.Type)
					}
					if it.required() && it.Attributes.Placeholder == "" && it.Attributes.Value == "" {
						t.Errorf("%s: a required field needs a placeholder showing a valid answer", label)
					}
				case "dropdown":
					opts := it.dropdownOptions(t)
					if len(opts) == 0 || len(slices.Compact(slices.Sorted(slices.Values(opts)))) != len(opts) {
						t.Errorf("%s: dropdown options must be non-empty and unique: %v", label, opts)
					}
					if slices.Contains(opts, "None") {
						t.Errorf("%s: GitHub reserves the dropdown option None", label)
					}
					if d := it.Attributes.Default; d != nil && (*d < 0 || *d >= len(opts)) {
						t.Errorf("%s: default %d out of range", label, *d)
					}
					if it.Attributes.Multiple {
						t.Errorf("%s: the parsers read one answer per dropdown", label)
					}
				case "checkboxes":
					opts := it.checkboxOptions(t)
					if len(opts) == 0 {
						t.Errorf("%s: checkboxes need options", label)
					}
					for _, o := range opts {
						if o.Label == "" {
							t.Errorf("%s: empty checkbox option", label)
						}
					}
					if it.Validations != nil {
						t.Errorf("%s: checkboxes are required per option (options[].required)", label)
					}
				}
				if it.Attributes.Render != "" {
					t.Errorf("%s: render wraps the answer in a code block; the parsers expect plain text", label)
				}
			}
		})
	}
}

// yaml11Typed matches plain scalars that a YAML 1.1 parser (GitHub's) reads as a boolean, null,
// number or date rather than a string: `No`, `on`, `2026-11-20`, `5.9.0`.
var yaml11Typed = regexp.MustCompile(`^(?i:y|yes|n|no|true|false|on|off|~|null)$|^[-+]?\.?[0-9][0-9_.:eE+-]*$`)

// Text in the forms must be a string under YAML 1.1 too, so it is quoted when it looks typed.
func TestIssueFormsQuoteTypedLookingStrings(t *testing.T) {
	typedKeys := map[string]bool{"required": true, "default": true, "multiple": true, "blank_issues_enabled": true}
	var walk func(file string, n *yaml.Node, typedOK bool)
	walk = func(file string, n *yaml.Node, typedOK bool) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(file, c, typedOK)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(file, n.Content[i+1], typedKeys[n.Content[i].Value])
			}
		case yaml.ScalarNode:
			if !typedOK && n.Style == 0 && yaml11Typed.MatchString(n.Value) {
				t.Errorf("%s:%d: quote %q; GitHub's YAML 1.1 parser does not read it as a string", file, n.Line, n.Value)
			}
		}
	}
	paths, _ := filepath.Glob(filepath.Join(templateDir, "*.yml"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		walk(filepath.Base(p), &doc, false)
	}
}

func TestIssueFormsConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(templateDir, "config.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		BlankIssuesEnabled *bool `yaml:"blank_issues_enabled"`
		ContactLinks       []struct {
			Name, URL, About string
		} `yaml:"contact_links"`
	}
	if err := decodeStrict(b, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.BlankIssuesEnabled == nil || *cfg.BlankIssuesEnabled {
		t.Fatal("config.yml must set blank_issues_enabled: false")
	}
}

// Every request label has exactly one form, and every form's labels route to a parser.
func TestEveryOperationHasOneForm(t *testing.T) {
	seen := map[Operation]string{}
	for _, f := range loadForms(t) {
		op := f.op(t)
		if other, dup := seen[op]; dup {
			t.Errorf("%s and %s both request %s", other, f.file, op)
		}
		seen[op] = f.file
	}
	for _, op := range Operations() {
		if _, ok := seen[op]; !ok {
			t.Errorf("operation %s (label %s) has a parser but no issue form", op, LabelOf(op))
		}
	}
}

// The YAML and the parsers never drift: each parser reads exactly the form's field labels and
// checkbox options, and the form's own examples parse without a problem.
func TestIssueFormsMatchParsers(t *testing.T) {
	for _, f := range loadForms(t) {
		t.Run(f.file, func(t *testing.T) {
			op := f.op(t)
			body := exampleBody(t, f)
			req, reads, err := tracedParse(op, body)
			if err != nil {
				t.Fatalf("the form's own examples must parse:\n%s\nbody:\n%s", Markdown(err), body)
			}
			if req.Operation() != op {
				t.Errorf("parsed %T is operation %s, want %s", req, req.Operation(), op)
			}
			var yamlLabels []string
			yamlOptions := map[string][]string{}
			for _, it := range f.fieldItems() {
				yamlLabels = append(yamlLabels, it.Attributes.Label)
				if it.Type == "checkboxes" {
					for _, o := range it.checkboxOptions(t) {
						yamlOptions[it.Attributes.Label] = append(yamlOptions[it.Attributes.Label], o.Label)
					}
				}
			}
			if got, want := keys(reads.labels), sorted(yamlLabels); !slices.Equal(got, want) {
				t.Errorf("the parser reads labels %q, the form has %q", got, want)
			}
			for label, opts := range yamlOptions {
				if got, want := keys(reads.options[label]), sorted(opts); !slices.Equal(got, want) {
					t.Errorf("%s: the parser reads options %q, the form has %q", label, got, want)
				}
			}
			for label := range reads.options {
				if _, ok := yamlOptions[label]; !ok {
					t.Errorf("the parser reads %q as checkboxes; in the form it is not", label)
				}
			}
			// The typed parser (ParseX) and the router agree.
			viaRouter, err := ParseRequest(op, body)
			if err != nil || viaRouter == nil {
				t.Fatalf("ParseRequest: %v", err)
			}
		})
	}
}

// validations.required in the YAML is exactly what the parser requires: a required field left
// empty (or a required checkbox left unticked) is reported by its label, an optional one is not.
// Every dropdown option is accepted.
func TestIssueFormsRequiredMatchesParsers(t *testing.T) {
	for _, f := range loadForms(t) {
		t.Run(f.file, func(t *testing.T) {
			op := f.op(t)
			for _, it := range f.fieldItems() {
				label := it.Attributes.Label
				switch it.Type {
				case "checkboxes":
					for _, o := range it.checkboxOptions(t) {
						answers := exampleAnswers(t, f)
						answers[label].checked[o.Label] = false
						_, err := ParseRequest(op, render(t, f, answers))
						checkRequired(t, label+" / "+o.Label, label, o.Required, err)
					}
				default:
					answers := exampleAnswers(t, f)
					answers[label] = answer{}
					_, err := ParseRequest(op, render(t, f, answers))
					checkRequired(t, label, label, it.required(), err)
					// Absent altogether (a label edited away) is the same as empty.
					body := render(t, f, exampleAnswers(t, f))
					body = strings.Replace(body, "### "+label+"\n", "### Something else\n", 1)
					_, err = ParseRequest(op, body)
					checkRequired(t, label+" (absent)", label, it.required(), err)
				}
				if it.Type == "dropdown" {
					for _, o := range it.dropdownOptions(t) {
						answers := exampleAnswers(t, f)
						answers[label] = answer{text: o}
						if _, err := ParseRequest(op, render(t, f, answers)); err != nil {
							t.Errorf("%s: option %q is rejected: %v", label, o, err)
						}
					}
				}
			}
		})
	}
}

func checkRequired(t *testing.T, what, label string, required bool, err error) {
	t.Helper()
	switch {
	case required && err == nil:
		t.Errorf("%s is required in the form but the parser accepts it empty", what)
	case required && !strings.Contains(err.Error(), label+":"):
		t.Errorf("%s left empty: the problem must name the field, got:\n%v", what, err)
	case !required && err != nil:
		t.Errorf("%s is optional in the form but the parser rejects it empty: %v", what, err)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

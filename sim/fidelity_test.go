package sim_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	gast "github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// fidelityDoc is the table of modelled behaviours, relative to this package.
const fidelityDoc = "../docs/fidelity.md"

// fidelityRow is one table row: the behaviour, whether it names a source, and the code spans of
// the code and test cells, in order.
type fidelityRow struct {
	line                 int
	behaviour            string
	code, tests          []string
	testsNone, sourceSet bool
}

// TestFidelityTable keeps docs/fidelity.md honest: every row names a source (or says it found
// none), every simulator file and function it names exists, and every conformance test it names
// is declared in that package's _test.go files.
func TestFidelityTable(t *testing.T) {
	rows := readFidelityTable(t)
	if len(rows) < 10 {
		t.Fatalf("%s: found %d table rows; is the table still there?", fidelityDoc, len(rows))
	}
	funcs := map[string]map[string]bool{} // file → declared functions and methods
	tests := map[string]map[string]bool{} // package dir → declared test functions
	for _, r := range rows {
		where := func(format string, args ...any) {
			t.Errorf("%s line %d (%q): "+format, append([]any{fidelityDoc, r.line, r.behaviour}, args...)...)
		}
		if !r.sourceSet {
			where("the source cell is empty; name the documentation or proto, or write \"source: not found\"")
		}
		if len(r.code) == 0 || len(r.code)%2 != 0 {
			where("the code cell must be `file` `function` pairs, got %q", r.code)
		}
		for i := 0; i+1 < len(r.code); i += 2 {
			file, fn := r.code[i], r.code[i+1]
			decls, ok := funcs[file]
			if !ok {
				decls = declaredFuncs(t, filepath.Join("..", file), false)
				funcs[file] = decls
			}
			if decls == nil {
				where("file %s does not exist", file)
			} else if !decls[fn] {
				where("%s declares no function or method %s", file, fn)
			}
		}
		if r.testsNone {
			continue
		}
		if len(r.tests) == 0 || len(r.tests)%2 != 0 {
			where("the test cell must be `package dir` `TestName` pairs or \"none\", got %q", r.tests)
		}
		for i := 0; i+1 < len(r.tests); i += 2 {
			dir, name := r.tests[i], r.tests[i+1]
			decls, ok := tests[dir]
			if !ok {
				decls = declaredFuncs(t, filepath.Join("..", dir), true)
				tests[dir] = decls
			}
			if !decls[name] {
				where("no func %s in %s/*_test.go", name, dir)
			}
		}
	}
}

// readFidelityTable parses the Markdown (GitHub tables) and returns every body row of every table.
func readFidelityTable(t *testing.T) []fidelityRow {
	t.Helper()
	src, err := os.ReadFile(fidelityDoc)
	if err != nil {
		t.Fatal(err)
	}
	md := goldmark.New(goldmark.WithExtensions(extension.Table))
	doc := md.Parser().Parse(text.NewReader(src))
	var rows []fidelityRow
	err = gast.Walk(doc, func(n gast.Node, entering bool) (gast.WalkStatus, error) {
		row, ok := n.(*east.TableRow)
		if !entering || !ok {
			return gast.WalkContinue, nil
		}
		var cells []gast.Node
		for c := row.FirstChild(); c != nil; c = c.NextSibling() {
			cells = append(cells, c)
		}
		if len(cells) != 4 {
			t.Errorf("%s: a row has %d cells, want 4 (behaviour, source, code, test)", fidelityDoc, len(cells))
			return gast.WalkSkipChildren, nil
		}
		r := fidelityRow{
			line:      lineOf(src, row),
			behaviour: plain(cells[0], src),
			code:      codeSpans(cells[2], src),
			tests:     codeSpans(cells[3], src),
		}
		r.sourceSet = strings.TrimSpace(plain(cells[1], src)) != ""
		r.testsNone = strings.TrimSpace(plain(cells[3], src)) == "none"
		rows = append(rows, r)
		return gast.WalkSkipChildren, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// codeSpans returns the text of the cell's code spans, in order.
func codeSpans(cell gast.Node, src []byte) []string {
	var out []string
	_ = gast.Walk(cell, func(n gast.Node, entering bool) (gast.WalkStatus, error) {
		if cs, ok := n.(*gast.CodeSpan); ok && entering {
			out = append(out, plain(cs, src))
			return gast.WalkSkipChildren, nil
		}
		return gast.WalkContinue, nil
	})
	return out
}

// plain is the cell's text without markup.
func plain(n gast.Node, src []byte) string {
	var b strings.Builder
	_ = gast.Walk(n, func(n gast.Node, entering bool) (gast.WalkStatus, error) {
		if t, ok := n.(*gast.Text); ok && entering {
			b.Write(t.Segment.Value(src))
			if t.SoftLineBreak() {
				b.WriteByte(' ')
			}
		}
		return gast.WalkContinue, nil
	})
	return b.String()
}

// lineOf is the 1-based line of the row's first text, for messages.
func lineOf(src []byte, n gast.Node) int {
	line := 0
	_ = gast.Walk(n, func(n gast.Node, entering bool) (gast.WalkStatus, error) {
		if t, ok := n.(*gast.Text); ok && entering {
			line = strings.Count(string(src[:t.Segment.Start]), "\n") + 1
			return gast.WalkStop, nil
		}
		return gast.WalkContinue, nil
	})
	return line
}

// declaredFuncs parses a Go file (or, with tests, a directory's _test.go files) and returns the
// names of its top-level functions and methods; nil if there is no such file or directory.
func declaredFuncs(t *testing.T, path string, tests bool) map[string]bool {
	t.Helper()
	files := []string{path}
	if tests {
		var err error
		if files, err = filepath.Glob(filepath.Join(path, "*_test.go")); err != nil {
			t.Fatal(err)
		}
	} else if _, err := os.Stat(path); err != nil {
		return nil
	}
	out := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("parse %s: %v", f, err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				out[fd.Name.Name] = true
			}
		}
	}
	return out
}

package lifecycle_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/yuin/goldmark"
	gast "github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// envName is how an environment variable's name looks.
var envName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)

// envReaders are the functions that read one variable named by their first argument: the
// standard library's and internal/config's, and mi's injected getenv.
var envReaders = map[string]bool{"Getenv": true, "LookupEnv": true, "DurationEnv": true, "IntEnv": true, "CIDRsEnv": true, "getenv": true}

// envReads finds every environment variable the module's Go code reads, with where: by parsing
// each file, not by matching text. A reader called with a constant (codec.EnvKeys) is resolved
// through the module's string constants; one called with a variable (a loop over a table of
// names, as the starter's settings do) counts the names in that function's composite literals.
func envReads(t *testing.T) map[string][]string {
	t.Helper()
	fset := token.NewFileSet()
	var files []*ast.File
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// bin/ and .local/ are build output and state; dev/tools holds only pinned tools' modules.
			if path != "." && (strings.HasPrefix(d.Name(), ".") || path == "bin" || path == "dev/tools") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files = append(files, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{} // Name and pkg.Name → value
	for _, f := range files {
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if v, ok := stringLit(vs.Values[i]); ok {
							consts[name.Name] = v
							consts[f.Name.Name+"."+name.Name] = v
						}
					}
				}
			}
		}
	}
	reads := map[string][]string{}
	add := func(name string, pos token.Pos) {
		p := fset.Position(pos)
		reads[name] = append(reads[name], p.Filename+":"+strconv.Itoa(p.Line))
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			fn, ok := n.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				return true
			}
			dynamic := false
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 || !envReaders[calleeName(call.Fun)] {
					return true
				}
				switch arg := call.Args[0].(type) {
				case *ast.BasicLit:
					if v, ok := stringLit(arg); ok {
						add(v, arg.Pos())
					}
				case *ast.Ident:
					if v, ok := consts[arg.Name]; ok {
						add(v, arg.Pos())
					} else {
						dynamic = true
					}
				case *ast.SelectorExpr:
					if x, ok := arg.X.(*ast.Ident); ok && consts[x.Name+"."+arg.Sel.Name] != "" {
						add(consts[x.Name+"."+arg.Sel.Name], arg.Pos())
					} else {
						dynamic = true
					}
				default:
					dynamic = true
				}
				return true
			})
			if dynamic {
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					if cl, ok := n.(*ast.CompositeLit); ok {
						for _, e := range cl.Elts {
							if v, ok := stringLit(e); ok && envName.MatchString(v) && strings.Contains(v, "_") {
								add(v, e.Pos())
							}
						}
					}
					return true
				})
			}
			return false
		})
	}
	return reads
}

func calleeName(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	v, err := strconv.Unquote(lit.Value)
	return v, err == nil
}

// documentedVars are the variables docs/configuration.md documents: the code spans of the first
// cell of every table row.
func documentedVars(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	md := goldmark.New(goldmark.WithExtensions(extension.Table))
	doc := md.Parser().Parse(text.NewReader(src))
	vars := map[string]bool{}
	err = gast.Walk(doc, func(n gast.Node, entering bool) (gast.WalkStatus, error) {
		if !entering {
			return gast.WalkContinue, nil
		}
		row, ok := n.(*east.TableRow)
		if !ok {
			return gast.WalkContinue, nil
		}
		for c := row.FirstChild().FirstChild(); c != nil; c = c.NextSibling() {
			if cs, ok := c.(*gast.CodeSpan); ok {
				var b strings.Builder
				for t := cs.FirstChild(); t != nil; t = t.NextSibling() {
					if tx, ok := t.(*gast.Text); ok {
						b.Write(tx.Segment.Value(src))
					}
				}
				name := b.String()
				if envName.MatchString(name) {
					vars[name] = true
				}
			}
		}
		return gast.WalkSkipChildren, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return vars
}

// TestConfigurationDocumentsEveryVariable: every environment variable the code reads is in
// docs/configuration.md, and every variable documented there is read somewhere.
func TestConfigurationDocumentsEveryVariable(t *testing.T) {
	reads := envReads(t)
	// The scan must see each kind of read, or it is not looking: a literal, a constant, a table.
	for _, v := range []string{"TEMPORAL_ADDRESS", "LIFECYCLE_CODEC_KEYS_FILE", "LIFECYCLE_ROLLOUT_BAKE", "STARTER_LISTEN", "MI_USER"} {
		if len(reads[v]) == 0 {
			t.Fatalf("the scan found no read of %s, which the code reads: the scan is broken (found %d variables)", v, len(reads))
		}
	}
	documented := documentedVars(t)
	var missing, stale []string
	for v, where := range reads {
		if !documented[v] {
			missing = append(missing, v+" (read at "+strings.Join(where, ", ")+")")
		}
	}
	for v := range documented {
		if len(reads[v]) == 0 {
			stale = append(stale, v)
		}
	}
	sort.Strings(missing)
	slices.Sort(stale)
	for _, m := range missing {
		t.Errorf("docs/configuration.md does not document %s: add a row (name, binary, default, meaning)", m)
	}
	for _, s := range stale {
		t.Errorf("docs/configuration.md documents %s, which no code reads: remove its row or read it", s)
	}
}

// TestRepositoryStandsOnItsOwn: a fresh clone has everything its text refers to. The README stays
// a short entry point (under 10 KB), nothing cites files outside the repository, and every
// relative link in the Markdown resolves to a file in it.
func TestRepositoryStandsOnItsOwn(t *testing.T) {
	if fi, err := os.Stat("README.md"); err != nil || fi.Size() >= 10*1024 {
		t.Errorf("README.md must stay under 10 KB (%v, %v): move reference material to docs/", fi.Size(), err)
	}
	outside := []string{"../" + "shared", "DESIGN" + ".md", "runbooks " + "§", "ARCHITECTURE" + ".md"}
	out, err := exec.Command("git", "ls-files").Output()
	if err != nil {
		t.Fatal(err)
	}
	md := goldmark.New(goldmark.WithExtensions(extension.Table))
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "tests/replay/testdata/") || strings.HasSuffix(f, ".sum") {
			continue // recorded histories and checksums hold no references
		}
		b, err := os.ReadFile(f)
		if err != nil {
			continue // listed but deleted in the working tree
		}
		for _, o := range outside {
			if bytes.Contains(b, []byte(o)) {
				t.Errorf("%s refers to %q, which a clone does not have: cite docs/… or nothing", f, o)
			}
		}
		if !strings.HasSuffix(f, ".md") {
			continue
		}
		doc := md.Parser().Parse(text.NewReader(b))
		gast.Walk(doc, func(n gast.Node, entering bool) (gast.WalkStatus, error) {
			l, ok := n.(*gast.Link)
			if !entering || !ok {
				return gast.WalkContinue, nil
			}
			dest := string(l.Destination)
			if strings.Contains(dest, "://") || strings.HasPrefix(dest, "#") || strings.HasPrefix(dest, "mailto:") {
				return gast.WalkContinue, nil
			}
			path, _, _ := strings.Cut(dest, "#")
			if _, err := os.Stat(filepath.Join(filepath.Dir(f), path)); err != nil {
				t.Errorf("%s links to %s, which is not in the repository", f, dest)
			}
			return gast.WalkContinue, nil
		})
	}
}

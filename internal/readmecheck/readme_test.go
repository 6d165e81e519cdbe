package readmecheck_test

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/parser"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// root is the repository root, from this package's directory.
const root = "../.."

// walkGo calls visit for every file of the tree whose name ends in suffix,
// with its path, its path relative to root and its contents. It skips the
// directories the go command skips: testdata, vendor, and names starting
// with . or _.
func walkGo(suffix string, visit func(path, rel string, src []byte) error) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, suffix) {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		return visit(path, rel, src)
	})
}

// snippet is one ```go block of the README.
type snippet struct {
	line int    // line of the opening fence
	text string // the code
}

var fence = regexp.MustCompile("(?m)^```go\n((?s:.*?))^```$")

func readmeSnippets(t *testing.T) []snippet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	require.NoError(t, err, "read README.md")
	var out []snippet
	for _, m := range fence.FindAllSubmatchIndex(b, -1) {
		out = append(out, snippet{line: 1 + bytes.Count(b[:m[0]], []byte("\n")), text: string(b[m[2]:m[3]])})
	}
	require.NotEmpty(t, out, "README.md has no ```go blocks")
	return out
}

// codeLines returns the lines of src as token sequences, comments and
// blank lines dropped, so that two pieces of code compare equal when only
// their comments and spacing differ.
func codeLines(src []byte) []string {
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	var s scanner.Scanner
	s.Init(file, src, nil, 0) // errors are left to the compiler
	var lines []string
	cur, curLine := []string(nil), 0
	flush := func() {
		if len(cur) > 0 {
			lines = append(lines, strings.Join(cur, " "))
		}
		cur = nil
	}
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		if tok == token.SEMICOLON && lit == "\n" {
			continue // inserted at a line end
		}
		if l := file.Line(pos); l != curLine {
			flush()
			curLine = l
		}
		if lit == "" {
			lit = tok.String()
		}
		cur = append(cur, lit)
	}
	flush()
	return lines
}

// fn is a function declared in a test file of the repository.
type fn struct {
	where   string   // file:name
	example bool     // an Example function
	body    []string // code lines of its body, without the braces
	decl    []string // code lines of the whole declaration
}

// testFuncs parses every _test.go file of every module in the tree, as the
// Makefile finds them, and returns their functions.
func testFuncs(t *testing.T) []fn {
	t.Helper()
	var out []fn
	err := walkGo("_test.go", func(path, rel string, src []byte) error {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			off := func(p token.Pos) int { return fset.Position(p).Offset }
			out = append(out, fn{
				where:   rel + ":" + fd.Name.Name,
				example: fd.Recv == nil && strings.HasPrefix(fd.Name.Name, "Example"),
				body:    codeLines(src[off(fd.Body.Lbrace)+1 : off(fd.Body.Rbrace)]),
				decl:    codeLines(src[off(fd.Pos()):off(fd.End())]),
			})
		}
		return nil
	})
	require.NoError(t, err, "walk the tree")
	return out
}

// subsequence reports whether want's lines appear in have, in order.
func subsequence(want, have []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

// TestReadmeSnippets checks that every Go snippet of the README is code
// that `make test` compiles (make test vets and tests every module, so
// every _test.go file is compiled), and mostly runs:
//
//   - a snippet of statements is the body of an Example function: its code
//     lines appear in that body, in order, with the Example free to add
//     lines (setup, output) between them; comments are not compared;
//   - a snippet that declares a function is a function of a test file,
//     line for line;
//   - the one template (Writing benchmarks), which no test declares, must
//     parse and be gofmt-formatted.
//
// Regression: the Prometheus and OTel snippets did not compile, and the
// leak-detection snippet was in no Example.
func TestReadmeSnippets(t *testing.T) {
	funcs := testFuncs(t)
	for _, s := range readmeSnippets(t) {
		want := codeLines([]byte(s.text))
		isDecl := len(want) > 0 && strings.HasPrefix(want[0], "func ")
		var found string
		for _, f := range funcs {
			switch {
			case isDecl && slicesEqual(want, f.decl):
				found = f.where
			case !isDecl && f.example && subsequence(want, f.body):
				found = f.where
			}
			if found != "" {
				break
			}
		}
		if found != "" {
			t.Logf("README.md:%d is in %s", s.line, found)
			continue
		}
		if isDecl && strings.HasPrefix(want[0], "func Benchmark") {
			src := "package p\n\n" + s.text
			_, err := parser.ParseFile(token.NewFileSet(), "", src, 0)
			assert.NoError(t, err, "README.md:%d: the benchmark template does not parse", s.line)
			formatted, err := format.Source([]byte(src))
			if assert.NoError(t, err) {
				assert.Equal(t, src, string(formatted), "README.md:%d: the benchmark template is not gofmt-formatted", s.line)
			}
			continue
		}
		what := "the body of no Example function"
		if isDecl {
			what = "a function that no test file declares"
		}
		t.Errorf("README.md:%d: the snippet is %s (comments aside):\n%s", s.line, what, s.text)
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCodeLines pins the comparison: comments and spacing do not count,
// code does.
func TestCodeLines(t *testing.T) {
	a := codeLines([]byte("x := f(1) // one\n\n\t// a comment line\ny  :=  \"http://a\"\n"))
	assert.Equal(t, []string{"x := f ( 1 )", `y := "http://a"`}, a)
	assert.True(t, subsequence(codeLines([]byte("a()\nc()")), codeLines([]byte("a()\nb()\nc()"))), "lines in order, with others between")
	assert.False(t, subsequence(codeLines([]byte("c()\na()")), codeLines([]byte("a()\nb()\nc()"))), "lines out of order")
	assert.False(t, subsequence(codeLines([]byte("a(x)")), codeLines([]byte("a(y)"))), "a changed argument")
}

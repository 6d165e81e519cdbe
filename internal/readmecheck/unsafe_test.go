package readmecheck_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// unsafeFile is where the README allows unsafe: trackedconn's Linux files
// (and their tests: a benchmark peeks the same way).
var unsafeFile = regexp.MustCompile(`^trackedconn/[a-z0-9_]+_linux(_test)?\.go$`)

// TestUnsafeAndLinkname checks the README's claim on every Go file of the
// tree, tests included: no go:linkname anywhere; unsafe imported only by
// trackedconn's Linux files, and used there only as unsafe.Pointer and
// unsafe.Sizeof (an address or a size handed to a system call), never to
// reach a field of another package.
func TestUnsafeAndLinkname(t *testing.T) {
	var unsafeFiles []string
	err := walkGo(".go", func(path, rel string, src []byte) error {
		rel = filepath.ToSlash(rel)
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				assert.False(t, strings.HasPrefix(c.Text, "//go:linkname"), "%s: %s", fset.Position(c.Pos()), c.Text)
			}
		}
		local := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "unsafe" {
				local = "unsafe"
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" {
			return nil
		}
		unsafeFiles = append(unsafeFiles, rel)
		assert.Regexp(t, unsafeFile, rel, "unsafe is imported outside trackedconn's Linux files")
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == local {
				assert.Contains(t, []string{"Pointer", "Sizeof"}, sel.Sel.Name, "%s: unsafe.%s", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
		return nil
	})
	require.NoError(t, err, "walk the tree")
	t.Logf("files that import unsafe: %v", unsafeFiles)
	assert.Contains(t, unsafeFiles, "trackedconn/probe_linux.go", "the README names probe_linux.go; update it if unsafe left it")
}

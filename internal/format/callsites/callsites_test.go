// Package callsites holds one test: that every call of package format in
// the daemon passes only values format prints as fmt would. It type-checks
// the daemon's source, so it runs natively, not in the emulated MIPS run.
package callsites

import (
	"go/ast"
	"go/build"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const formatPath = "github.com/mcast-proxy/mcast-proxy/internal/format"

// TestCallSitesUseSupportedTypes finds every call of format's functions,
// and of the daemon's own wrappers of them (a function whose parameters end
// in "layout string, args ...any"), reads the verbs of the constant layout
// and checks each argument's type against what format prints: a value of
// another type would print as "%!d(?)" in an error message. fmt printed
// anything through reflection, which format leaves out for the binary's
// size; this test keeps the two in step as call sites are added.
func TestCallSitesUseSupportedTypes(t *testing.T) {
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "source", nil)
	calls := 0
	for _, top := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(dir string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			bp, err := build.Default.ImportDir(dir, 0)
			if err != nil || !slices.Contains(bp.Imports, formatPath) {
				return nil // no Go files, or none that format messages
			}
			var files []*ast.File
			for _, name := range bp.GoFiles {
				f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
				if err != nil {
					return err
				}
				files = append(files, f)
			}
			info := &types.Info{Types: map[ast.Expr]types.TypeAndValue{}, Uses: map[*ast.Ident]types.Object{}}
			if _, err := (&types.Config{Importer: imp}).Check(bp.ImportPath, fset, files, info); err != nil {
				return err
			}
			for _, f := range files {
				ast.Inspect(f, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if !ok {
						return true
					}
					at := layoutArg(call, info)
					if at == lineArgs {
						for _, a := range call.Args[1:] {
							if typ := info.Types[a].Type; !supported('v', typ) {
								t.Errorf("%s: Fprintln of a %s, which format does not print", fset.Position(a.Pos()), typ)
							}
						}
						return true
					}
					if at < 0 {
						return true
					}
					calls++
					where := fset.Position(call.Pos())
					if call.Ellipsis.IsValid() {
						return true // a wrapper passing its own arguments on: its callers are checked
					}
					tv := info.Types[call.Args[at]]
					if tv.Value == nil || tv.Value.Kind() != constant.String {
						t.Errorf("%s: the layout is not a constant string", where)
						return true
					}
					args := call.Args[at+1:]
					vs := verbs(constant.StringVal(tv.Value))
					if len(vs) != len(args) {
						t.Errorf("%s: %d verbs for %d arguments", where, len(vs), len(args))
						return true
					}
					for i, v := range vs {
						if typ := info.Types[args[i]].Type; !supported(v, typ) {
							t.Errorf("%s: %%%c of a %s, which format does not print", where, v, typ)
						}
					}
					return true
				})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if calls < 300 {
		t.Errorf("found %d calls of format, want the daemon's 300 and more: is the walk broken?", calls)
	}
}

// lineArgs is what layoutArg returns for Fprintln, whose arguments print as
// %v does.
const lineArgs = -2

// layoutArg returns the index of the layout argument if call is one of
// format's functions or a wrapper of them, lineArgs for Fprintln, else -1.
func layoutArg(call *ast.CallExpr, info *types.Info) int {
	var id *ast.Ident
	switch fun := call.Fun.(type) {
	case *ast.SelectorExpr:
		id = fun.Sel
	case *ast.Ident:
		id = fun
	default:
		return -1
	}
	fn, ok := info.Uses[id].(*types.Func)
	if !ok {
		return -1
	}
	if fn.Pkg() != nil && fn.Pkg().Path() == formatPath {
		switch fn.Name() {
		case "Errorf", "Sprintf":
			return 0
		case "Fprintf", "Appendf":
			return 1
		}
		return lineArgs
	}
	sig := fn.Type().(*types.Signature)
	n := sig.Params().Len()
	if !sig.Variadic() || n < 2 || sig.Params().At(n-2).Name() != "layout" {
		return -1
	}
	return n - 2
}

// verbs returns the verbs of layout, one per argument they take.
func verbs(layout string) []rune {
	var out []rune
	for i := 0; i < len(layout); i++ {
		if layout[i] != '%' {
			continue
		}
		i++
		for i < len(layout) && strings.IndexByte("+-# 0123456789.", layout[i]) >= 0 {
			i++
		}
		if i < len(layout) && layout[i] != '%' {
			out = append(out, rune(layout[i]))
		}
	}
	return out
}

// supported mirrors format's printer.value.
func supported(verb rune, typ types.Type) bool {
	typ = types.Unalias(typ)
	if types.Identical(typ, types.Typ[types.UntypedNil]) {
		return true
	}
	errType := types.Universe.Lookup("error").Type().Underlying().(*types.Interface)
	if types.Implements(typ, errType) {
		return strings.ContainsRune("vsqw", verb)
	}
	if hasString(typ) {
		return strings.ContainsRune("vsq", verb)
	}
	if iface, ok := typ.(*types.Interface); ok && iface.Empty() {
		// What the logger prints of a value it has no case for, and a
		// recovered panic: format's fallback, as fmt's %v would be for
		// the values the logger's own tests list.
		return verb == 'v'
	}
	if b, ok := typ.(*types.Basic); ok { // predeclared only: a named integer type prints "?"
		switch {
		case b.Kind() == types.String:
			return strings.ContainsRune("vsq", verb)
		case b.Kind() == types.Bool:
			return strings.ContainsRune("vt", verb)
		case b.Info()&types.IsInteger != 0 && b.Kind() != types.Uintptr:
			return strings.ContainsRune("vdx", verb)
		case b.Kind() == types.Float64:
			return strings.ContainsRune("vf", verb)
		}
		return false
	}
	switch typ.String() {
	case "[]string", "[]net/netip.Addr", "[]net/netip.Prefix":
		return verb == 'v' || verb == 's'
	case "[]int":
		return verb == 'v' || verb == 'd'
	case "map[string]uint64":
		return verb == 'v'
	}
	return false
}

// hasString reports whether a value of typ has a String() string method.
func hasString(typ types.Type) bool {
	obj, _, _ := types.LookupFieldOrMethod(typ, false, nil, "String")
	fn, ok := obj.(*types.Func)
	if !ok {
		return false
	}
	sig := fn.Type().(*types.Signature)
	return sig.Params().Len() == 0 && sig.Results().Len() == 1 && types.Identical(sig.Results().At(0).Type(), types.Typ[types.String])
}

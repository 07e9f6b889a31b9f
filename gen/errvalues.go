package gen

import (
	"go/types"

	"golang.org/x/tools/go/packages"
)

// An errValue is an error of a target's package that the generated code
// registers: a sentinel or an error type.
type errValue struct {
	file     string     // where it is declared
	name     string     // its identifier
	sentinel *types.Var // a sentinel, or nil
	typ      types.Type // an error type, T or *T, or nil
}

// errorValues returns what of pkg's errors declared in the files that keep
// accepts the generated code registers, so that errors.Is and errors.As
// work in a parent on an error a child returned: the exported package-level
// variables whose type implements error (sentinels), and the exported
// defined types that implement error, T or *T, whichever does, and that can
// travel (error types). They are in name order. A type that cannot travel
// is left out without a word: it is not a target, and the child reports its
// errors by message anyway.
func errorValues(pkg *packages.Package, tr *traveler, keep func(file string) bool) []errValue {
	errorType := types.Universe.Lookup("error").Type().Underlying().(*types.Interface)
	scope := pkg.Types.Scope()
	var vals []errValue
	for _, name := range scope.Names() {
		obj := scope.Lookup(name)
		file := pkg.Fset.Position(obj.Pos()).Filename
		if !obj.Exported() || !keep(file) {
			continue
		}
		switch obj := obj.(type) {
		case *types.Var:
			if types.Implements(obj.Type(), errorType) {
				vals = append(vals, errValue{file: file, name: name, sentinel: obj})
			}
		case *types.TypeName:
			named, ok := obj.Type().(*types.Named)
			if !ok || obj.IsAlias() || named.TypeParams().Len() > 0 || types.IsInterface(named) {
				continue
			}
			var t types.Type
			switch {
			case types.Implements(named, errorType):
				t = named
			case types.Implements(types.NewPointer(named), errorType):
				t = types.NewPointer(named)
			default:
				continue
			}
			if tr.check(t) == nil {
				vals = append(vals, errValue{file: file, name: name, typ: t})
			}
		}
	}
	return vals
}

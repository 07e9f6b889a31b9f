package gen

import "go/types"

// errorValues returns what of pkg's errors the generated code registers,
// so that errors.Is and errors.As work in a parent on an error a child
// returned: the exported package-level variables whose type implements error
// (sentinels), and the exported defined types that implement error, T or *T,
// whichever does, and that can travel (error types). Both are in name order.
// A type that cannot travel is left out without a word: it is not a target,
// and the child reports its errors by message anyway.
func errorValues(pkg *types.Package, tr *traveler) (sentinels []*types.Var, errTypes []types.Type) {
	errorType := types.Universe.Lookup("error").Type().Underlying().(*types.Interface)
	scope := pkg.Scope()
	for _, name := range scope.Names() {
		switch obj := scope.Lookup(name).(type) {
		case *types.Var:
			if obj.Exported() && types.Implements(obj.Type(), errorType) {
				sentinels = append(sentinels, obj)
			}
		case *types.TypeName:
			named, ok := obj.Type().(*types.Named)
			if !ok || obj.IsAlias() || !obj.Exported() || named.TypeParams().Len() > 0 || types.IsInterface(named) {
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
				errTypes = append(errTypes, t)
			}
		}
	}
	return sentinels, errTypes
}

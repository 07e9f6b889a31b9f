package gen

import (
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"

	"golang.org/x/tools/go/packages"
)

// check completes the targets that find returned with what their signatures
// say, and returns an error for every target that cannot be one: generic,
// without a usable Run method, or with a parameter or result that cannot
// travel to a child process.
func check(pkg *packages.Package, found []target) ([]target, []error) {
	c := &checker{pkg: pkg, travel: newTraveler(pkg.Types)}
	var (
		targets []target
		errs    []error
	)
	for _, t := range found {
		var terrs []error
		switch t.Kind {
		case funcKind:
			terrs = c.funcTarget(&t)
		case typeKind:
			terrs = c.typeTarget(&t)
		}
		if len(terrs) > 0 {
			errs = append(errs, terrs...)
			continue
		}
		targets = append(targets, t)
	}
	return targets, errs
}

type checker struct {
	pkg    *packages.Package
	travel *traveler
}

// errorf returns an *Error at pos about target t.
func (c *checker) errorf(t *target, pos token.Pos, format string, args ...any) error {
	e := errorf(c.pkg.Fset.Position(pos), format, args...)
	e.Msg = "mp:target " + t.Ident + ": " + e.Msg
	return e
}

func (c *checker) funcTarget(t *target) []error {
	fn, ok := c.pkg.Types.Scope().Lookup(t.Ident).(*types.Func)
	if !ok {
		return []error{errorf(t.Pos, "mp:target %s: not a function (internal error; please report it)", t.Ident)}
	}
	sig := fn.Signature()
	if sig.TypeParams().Len() > 0 {
		return []error{c.errorf(t, fn.Pos(), "generic functions cannot be targets; annotate a non-generic function that calls it")}
	}
	errs := c.params(t, sig)
	return append(errs, c.results(t, sig)...)
}

func (c *checker) typeTarget(t *target) []error {
	tn, ok := c.pkg.Types.Scope().Lookup(t.Ident).(*types.TypeName)
	if !ok {
		return []error{errorf(t.Pos, "mp:target %s: not a type (internal error; please report it)", t.Ident)}
	}
	named, ok := tn.Type().(*types.Named)
	if !ok {
		return []error{c.errorf(t, tn.Pos(), "%s is not a defined type; annotate the type it stands for", t.Ident)}
	}
	if named.TypeParams().Len() > 0 {
		return []error{c.errorf(t, tn.Pos(), "generic types cannot be targets; annotate a non-generic type instead")}
	}
	var errs []error
	if f := c.travel.check(named); f != nil {
		errs = append(errs, c.errorf(t, tn.Pos(), "%s", f.sentence(c.travel.q)))
	}
	t.Params = []param{{Type: named}}

	obj, _, _ := types.LookupFieldOrMethod(named, true, c.pkg.Types, "Run")
	run, ok := obj.(*types.Func)
	if !ok {
		return append(errs, c.errorf(t, tn.Pos(), "type %s has no Run method to be its body; declare one, for instance func (x %s) Run(ctx context.Context) error", t.Ident, t.Ident))
	}
	sig := run.Signature()
	switch {
	case sig.Params().Len() == 0:
	case sig.Params().Len() == 1 && isContext(sig.Params().At(0).Type()):
		t.Context = true
	default:
		errs = append(errs, c.errorf(t, run.Pos(), "method Run may take no parameters or one context.Context, not (%s); the state it needs travels in the exported fields of %s",
			tupleString(sig.Params(), c.travel.q), t.Ident))
	}
	return append(errs, c.results(t, sig)...)
}

// params sets t.Context, t.Params and t.Variadic from sig.
func (c *checker) params(t *target, sig *types.Signature) []error {
	var errs []error
	for i := range sig.Params().Len() {
		p := sig.Params().At(i)
		if isContext(p.Type()) {
			if i == 0 {
				t.Context = true
			} else {
				errs = append(errs, c.errorf(t, p.Pos(), "%s has type context.Context, which a target takes only as its first parameter; move it first", paramName(p)))
			}
			continue
		}
		check := c.travel.value
		if isHandlePointer(p.Type()) {
			check = c.travel.handleParam
		}
		if f := check(p.Type()); f != nil {
			errs = append(errs, c.errorf(t, p.Pos(), "%s", f.about(paramName(p), p.Type(), c.travel.q)))
			continue
		}
		name := p.Name()
		if name == "_" {
			name = ""
		}
		t.Params = append(t.Params, param{Name: name, Type: p.Type()})
	}
	t.Variadic = sig.Variadic()
	return errs
}

func paramName(p *types.Var) string {
	if p.Name() == "" {
		return "unnamed parameter"
	}
	return "parameter " + p.Name()
}

// results sets t.Result and t.Error from sig, which must return nothing,
// error, a value, or a value and an error.
func (c *checker) results(t *target, sig *types.Signature) []error {
	res := sig.Results()
	n := res.Len()
	if n > 0 && isError(res.At(n-1).Type()) {
		t.Error = true
		n--
	}
	if n == 0 {
		return nil
	}
	if n > 1 {
		return []error{c.errorf(t, res.At(0).Pos(), "results (%s) are not supported; return nothing, error, a value, or a value and an error", tupleString(res, c.travel.q))}
	}
	r := res.At(0).Type()
	if f := c.travel.value(r); f != nil {
		return []error{c.errorf(t, res.At(0).Pos(), "%s", f.about("result", r, c.travel.q))}
	}
	t.Result = r
	return nil
}

// lateInits returns an error for each init function of package main that
// would run after the generated one, whose guard runs a child's target: Go
// runs a package's init functions in the order of their files' names.
func lateInits(fset *token.FileSet, files []*ast.File, output string) []error {
	var errs []error
	for _, file := range files {
		if file.Name.Name != "main" {
			continue
		}
		base := filepath.Base(fset.Position(file.Package).Filename)
		if base <= output {
			continue
		}
		for _, decl := range file.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				errs = append(errs, errorf(fset.Position(fn.Name.Pos()),
					"func init in %s would run after the mpgen guard in %s, as Go runs init functions in file name order; rename the file so it sorts before %s",
					base, output, output))
			}
		}
	}
	return errs
}

func isContext(t types.Type) bool {
	named, ok := types.Unalias(t).(*types.Named)
	return ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == "context" && named.Obj().Name() == "Context"
}

func isError(t types.Type) bool {
	return types.Identical(t, types.Universe.Lookup("error").Type())
}

// tupleString lists the types of a tuple: "int, error".
func tupleString(tuple *types.Tuple, q types.Qualifier) string {
	s := ""
	for i := range tuple.Len() {
		if i > 0 {
			s += ", "
		}
		s += types.TypeString(tuple.At(i).Type(), q)
	}
	return s
}

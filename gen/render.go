package gen

import (
	"bufio"
	"bytes"
	"fmt"
	"go/types"
	"slices"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"
	"golang.org/x/tools/imports"
)

// version is the generated-code version this generator writes; the runtime
// states which versions it runs (mpimpl.MinVersion to mpimpl.MaxVersion).
const version = 2

// runtimePath is the import path of the user's runtime package. Its package
// name is mp; the generated code imports it as mpruntime (for handle types
// in target signatures), so it never shadows the standard runtime package.
const runtimePath = "github.com/mpgen/mpgen/runtime"

// implPath is the import path of the generated-code contract.
const implPath = runtimePath + "/mpimpl"

// unit is what the generated file of one package holds.
type unit struct {
	pkg       *types.Package
	prefix    string // of registered names: package path, or "main"
	targets   []target
	sentinels []*types.Var
	errTypes  []types.Type
	guard     bool            // install the main guard (package main)
	build     string          // the file's //go:build line, if any
	taken     map[string]bool // package-level names in every build of the package
}

// renderer builds the generated file of one unit.
type renderer struct {
	*unit
	names *names
	err   error // first internal error
}

// render returns the formatted source of the generated file for u.
func render(u *unit) ([]byte, error) {
	r := &renderer{unit: u, names: newNames(u.pkg, u.taken)}
	r.nameImports()
	f := r.file()
	if r.err != nil {
		return nil, r.err
	}
	f.NoFormat = true
	var raw bytes.Buffer
	if err := f.Render(&raw); err != nil {
		return nil, fmt.Errorf("internal error: rendering the generated code for %s: %w", u.pkg.Path(), err)
	}
	if u.build != "" {
		// After the header, with a blank line on each side.
		rest, _ := bytes.CutPrefix(raw.Bytes(), []byte(header+"\n"))
		raw = *bytes.NewBuffer(slices.Concat([]byte(header+"\n\n"+u.build+"\n"), rest))
	}
	// goimports' formatting: gofmt, with the standard library imports in a
	// group of their own.
	src, err := imports.Process(DefaultOutput, raw.Bytes(), &imports.Options{FormatOnly: true, Comments: true, TabIndent: true, TabWidth: 8})
	if err != nil {
		return nil, fmt.Errorf("internal error: the generated code for %s does not parse, please report it: %w\n%s", u.pkg.Path(), err, numbered(raw.Bytes()))
	}
	return src, nil
}

// nameImports names every package the file imports, before any local
// variable is named, so that no local shadows an import.
func (r *renderer) nameImports() {
	r.names.use(implPath, "mpimpl")
	r.names.use(runtimePath, "mpruntime")
	if len(r.targets) > 0 {
		r.names.use("context", "context")
		r.names.use("reflect", "reflect")
	}
	for _, t := range r.targets {
		for _, p := range t.Params {
			r.names.useType(p.Type)
		}
		if t.Result != nil {
			r.names.useType(t.Result)
		}
	}
	for _, t := range r.errTypes {
		r.names.useType(t)
	}
}

// file builds the generated file.
func (r *renderer) file() *jen.File {
	f := jen.NewFilePathName(r.pkg.Path(), r.pkg.Name())
	f.HeaderComment(header)
	r.names.declare(f)
	f.Comment("These constants fail to compile when this file and the linked mpgen runtime disagree on the")
	f.Comment("generated-code version: re-run `go generate` with the mpgen of the runtime's module version.")
	f.Const().Id("_").Op("=").Add(r.rt("EnforceVersion")).Call(jen.Lit(version).Op("-").Add(r.rt("MinVersion")))
	f.Const().Id("_").Op("=").Add(r.rt("EnforceVersion")).Call(r.rt("MaxVersion").Op("-").Lit(version))
	f.Line()
	if len(r.targets) > 0 {
		f.Comment("A compile error in init means that a target's signature changed, or that a target was renamed")
		f.Comment("or removed, since this file was generated: re-run `go generate`.")
	}
	f.Func().Id("init").Params().BlockFunc(func(g *jen.Group) {
		for _, t := range r.targets {
			g.Add(r.rt("Register")).Call(r.rt("Spec").Values(r.spec(t)...))
		}
		for _, v := range r.sentinels {
			g.Add(r.rt("RegisterError")).Call(jen.Lit(r.prefix+"."+v.Name()), jen.Id(v.Name()))
		}
		for _, t := range r.errTypes {
			g.Add(r.rt("RegisterErrorType")).Types(r.typ(t)).Call(jen.Lit(r.prefix + "." + typeName(t)))
		}
		if r.guard {
			g.Add(r.rt("Guard")).Call()
		}
	})
	return f
}

// rt refers to name in the generated-code contract, package mpimpl.
func (r *renderer) rt(name string) *jen.Statement {
	return jen.Qual(implPath, name)
}

// typeFor is reflect.TypeFor[t]().
func (r *renderer) typeFor(t types.Type) *jen.Statement {
	return jen.Qual("reflect", "TypeFor").Types(r.typ(t)).Call()
}

// spec returns the fields of the mpruntime.Spec literal of t, one per line,
// in the order the runtime declares them.
func (r *renderer) spec(t target) []jen.Code {
	var fields []jen.Code
	add := func(name string, value jen.Code) {
		fields = append(fields, jen.Line().Id(name).Op(":").Add(value))
	}
	add("Name", jen.Lit(t.Name))
	switch t.Kind {
	case funcKind:
		add("Func", jen.Id(t.Ident))
	case typeKind:
		add("Type", r.typeFor(t.Params[0].Type))
	}
	if t.Context {
		add("Context", jen.True())
	}
	if len(t.Params) > 0 {
		// One parameter per line when there are several.
		params := make([]jen.Code, len(t.Params))
		for i, p := range t.Params {
			params[i] = r.rt("P").Types(r.typ(p.Type)).Call(jen.Lit(p.Name))
			if len(t.Params) > 1 {
				params[i] = jen.Line().Add(params[i])
			}
		}
		if len(t.Params) > 1 {
			params = append(params, jen.Line())
		}
		add("Params", jen.Index().Add(r.rt("Param")).Values(params...))
	}
	if t.Variadic {
		add("Variadic", jen.True())
	}
	if t.Result != nil {
		add("Result", r.typeFor(t.Result))
	}
	// The typed body of a target of one parameter serves its single calls
	// and the runtime's loop over a chunk of Map alike.
	if len(t.Params) == 1 {
		add("Batch", r.batch(t))
	} else {
		add("Call", r.call(t))
	}
	return append(fields, jen.Line())
}

// batch returns the Batch of a target of one parameter: the body called on
// one typed value.
func (r *renderer) batch(t target) jen.Code {
	local := r.names.locals()
	ctx := local.name("ctx")
	var a string
	var ctxArg []jen.Code
	if t.Context {
		ctxArg = append(ctxArg, jen.Id(ctx))
	}
	var invoke *jen.Statement
	switch t.Kind {
	case funcKind:
		a = local.name("a0")
		arg := jen.Id(a)
		if t.Variadic {
			arg.Op("...")
		}
		invoke = jen.Id(t.Ident).Call(append(ctxArg, arg)...)
	case typeKind:
		a = local.name("v")
		invoke = jen.Id(a).Dot("Run").Call(ctxArg...)
	}
	var res jen.Code = jen.Struct()
	if t.Result != nil {
		res = r.typ(t.Result)
	}
	var body []jen.Code
	switch {
	case t.Result != nil && t.Error:
		body = append(body, jen.Return(invoke))
	case t.Result != nil:
		body = append(body, jen.Return(invoke, jen.Nil()))
	case t.Error:
		body = append(body, jen.Return(jen.Struct().Values(), invoke))
	default:
		body = append(body, invoke, jen.Return(jen.Struct().Values(), jen.Nil()))
	}
	return r.rt("One").Call(jen.Func().
		Params(jen.Id(ctx).Qual("context", "Context"), jen.Id(a).Add(r.typ(t.Params[0].Type))).
		Params(res, jen.Error()).
		Block(body...))
}

// call returns the Call function of a function target of zero or several
// parameters: it decodes each argument into a local variable and calls the
// body with them.
func (r *renderer) call(t target) jen.Code {
	local := r.names.locals()
	ctx, args, errv := local.name("ctx"), local.name("args"), local.name("err")
	var body []jen.Code
	var callArgs []jen.Code
	if t.Context {
		callArgs = append(callArgs, jen.Id(ctx))
	}
	for i, p := range t.Params {
		v := local.name("a" + strconv.Itoa(i))
		body = append(body,
			jen.Var().Id(v).Add(r.typ(p.Type)),
			jen.If(
				jen.Id(errv).Op(":=").Id(args).Dot("Decode").Call(jen.Lit(i), jen.Op("&").Id(v)),
				jen.Id(errv).Op("!=").Nil(),
			).Block(jen.Return(jen.Nil(), jen.Id(errv))),
		)
		arg := jen.Id(v)
		if t.Variadic && i == len(t.Params)-1 {
			arg.Op("...")
		}
		callArgs = append(callArgs, arg)
	}
	invoke := jen.Id(t.Ident).Call(callArgs...)
	switch {
	case t.Result != nil && t.Error:
		body = append(body, jen.Return(invoke))
	case t.Result != nil:
		res := local.name("r")
		body = append(body, jen.Id(res).Op(":=").Add(invoke), jen.Return(jen.Id(res), jen.Nil()))
	case t.Error:
		body = append(body, jen.Return(jen.Nil(), invoke))
	default:
		body = append(body, invoke, jen.Return(jen.Nil(), jen.Nil()))
	}
	return jen.Func().
		Params(jen.Id(ctx).Qual("context", "Context"), jen.Id(args).Add(r.rt("Args"))).
		Params(jen.Any(), jen.Error()).
		Block(body...)
}

// typeName is the name of the defined type t or *t.
func typeName(t types.Type) string {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := t.(*types.Named); ok {
		return n.Obj().Name()
	}
	return types.TypeString(t, nil)
}

// numbered returns src with line numbers, for reports of internal errors.
func numbered(src []byte) string {
	var b strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		fmt.Fprintf(&b, "%4d  %s\n", n, sc.Text())
	}
	return b.String()
}

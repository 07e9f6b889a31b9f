package gen

import (
	"bufio"
	"bytes"
	"fmt"
	"go/types"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dave/jennifer/jen"
	"golang.org/x/tools/imports"
)

// version is the generated-code version this generator writes; the runtime
// states which versions it runs (mp.MinVersion to mp.MaxVersion).
const version = 1

// runtimePath is the import path of the runtime the generated code uses.
// Its package name is mp; the generated code imports it as mpruntime, so it
// never shadows the standard runtime package.
const runtimePath = "github.com/mpgen/mpgen/runtime"

// unit is what the generated file of one package holds.
type unit struct {
	pkg       *types.Package
	prefix    string // of registered names: package path, or "main"
	targets   []Target
	sentinels []*types.Var
	errTypes  []types.Type
	guard     bool // install the main guard (package main)
}

// renderer builds the generated file of one unit.
type renderer struct {
	*unit
	names *names
	err   error // first internal error
}

// render returns the formatted source of the generated file for u.
func render(u *unit) ([]byte, error) {
	r := &renderer{unit: u, names: newNames(u.pkg)}
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
	r.names.use(runtimePath, "mpruntime")
	if len(r.targets) > 0 {
		r.names.use("context", "context")
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

// rt refers to name in the runtime package.
func (r *renderer) rt(name string) *jen.Statement {
	return jen.Qual(runtimePath, name)
}

// spec returns the fields of the mpruntime.Spec literal of t, one per line,
// in the order the runtime declares them.
func (r *renderer) spec(t Target) []jen.Code {
	var fields []jen.Code
	add := func(name string, value jen.Code) {
		fields = append(fields, jen.Line().Id(name).Op(":").Add(value))
	}
	add("Name", jen.Lit(t.Name))
	add("Pos", jen.Lit(filepath.Base(t.Pos.Filename)+":"+strconv.Itoa(t.Pos.Line)))
	switch t.Kind {
	case FuncTarget:
		add("Func", jen.Id(t.Ident))
	case TypeTarget:
		add("Type", r.rt("TypeOf").Types(r.typ(t.Params[0].Type)).Call())
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
		add("Result", r.rt("TypeOf").Types(r.typ(t.Result)).Call())
	}
	if t.Error {
		add("Error", jen.True())
	}
	add("Call", r.call(t))
	if t.Kind == FuncTarget && len(t.Params) == 1 {
		add("Batch", r.batch(t))
	}
	return append(fields, jen.Line())
}

// batch returns the Batch of a function target of one parameter: the body
// called on one value, typed, for the runtime's loop over a chunk of Map.
func (r *renderer) batch(t Target) jen.Code {
	local := r.names.locals()
	ctx, a := local.name("ctx"), local.name("a0")
	var callArgs []jen.Code
	if t.Context {
		callArgs = append(callArgs, jen.Id(ctx))
	}
	arg := jen.Id(a)
	if t.Variadic {
		arg.Op("...")
	}
	callArgs = append(callArgs, arg)
	invoke := jen.Id(t.Ident).Call(callArgs...)
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

// call returns the Call function of t: it decodes each argument into a
// local variable and calls the body with them.
func (r *renderer) call(t Target) jen.Code {
	local := r.names.locals()
	ctx, args, errv := local.name("ctx"), local.name("args"), local.name("err")
	var body []jen.Code
	var callArgs []jen.Code
	if t.Context && t.Kind == FuncTarget {
		callArgs = append(callArgs, jen.Id(ctx))
	}
	vars := make([]string, len(t.Params))
	for i, p := range t.Params {
		if t.Kind == TypeTarget {
			vars[i] = local.name("v")
		} else {
			vars[i] = local.name("a" + strconv.Itoa(i))
		}
		body = append(body,
			jen.Var().Id(vars[i]).Add(r.typ(p.Type)),
			jen.If(
				jen.Id(errv).Op(":=").Id(args).Dot("Decode").Call(jen.Lit(i), jen.Op("&").Id(vars[i])),
				jen.Id(errv).Op("!=").Nil(),
			).Block(jen.Return(jen.Nil(), jen.Id(errv))),
		)
		arg := jen.Id(vars[i])
		if t.Variadic && i == len(t.Params)-1 {
			arg.Op("...")
		}
		callArgs = append(callArgs, arg)
	}

	var invoke *jen.Statement
	switch t.Kind {
	case FuncTarget:
		invoke = jen.Id(t.Ident).Call(callArgs...)
	case TypeTarget:
		var runArgs []jen.Code
		if t.Context {
			runArgs = append(runArgs, jen.Id(ctx))
		}
		invoke = jen.Id(vars[0]).Dot("Run").Call(runArgs...)
	}
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
		Params(jen.Id(ctx).Qual("context", "Context"), jen.Id(args).Add(r.rt("ArgDecoder"))).
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

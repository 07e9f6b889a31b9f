package gen

import (
	"go/types"
	"path"
	"strconv"

	"github.com/dave/jennifer/jen"
)

// names picks the identifiers the generated file declares or imports, so
// that none collides with a package-level name of the package it is in.
type names struct {
	pkg      *types.Package
	declared map[string]bool   // package-level names of the package in any build
	imports  map[string]string // import path -> name in the file
	taken    map[string]bool   // import names given out
}

// newNames returns the names of a file of pkg; declared, if not nil, holds
// the package-level names of every build of pkg, so that the names chosen
// are the same whichever build mpgen loaded.
func newNames(pkg *types.Package, declared map[string]bool) *names {
	return &names{pkg: pkg, declared: declared, imports: map[string]string{}, taken: map[string]bool{}}
}

// free reports whether name may be declared in the generated file.
func (n *names) free(name string) bool {
	return !n.taken[name] && !n.declared[name] && n.pkg.Scope().Lookup(name) == nil && types.Universe.Lookup(name) == nil
}

// unique returns name, or name followed by the smallest number that makes
// it free and not in also.
func (n *names) unique(name string, also map[string]bool) string {
	u := name
	for i := 1; !n.free(u) || also[u]; i++ {
		u = name + strconv.Itoa(i)
	}
	return u
}

// use gives the package at path, whose package clause says name, a name in
// the file, the first time it is asked for.
func (n *names) use(path, name string) {
	if _, ok := n.imports[path]; ok {
		return
	}
	u := n.unique(name, nil)
	n.imports[path] = u
	n.taken[u] = true
}

// locals names the local variables of one function.
type locals struct {
	n     *names
	taken map[string]bool
}

func (n *names) locals() *locals {
	return &locals{n: n, taken: map[string]bool{}}
}

// name returns a name for a local variable that differs from the function's
// other locals and shadows no package-level name nor import of the file.
func (l *locals) name(base string) string {
	u := l.n.unique(base, l.taken)
	l.taken[u] = true
	return u
}

// useType gives a name to every package that the spelling of t refers to.
func (n *names) useType(t types.Type) {
	switch t := t.(type) {
	case *types.Alias:
		if spellable(n.pkg, t.Obj()) {
			n.useObj(t.Obj(), t.TypeArgs())
		} else {
			n.useType(types.Unalias(t))
		}
	case *types.Named:
		n.useObj(t.Obj(), t.TypeArgs())
	case *types.Pointer:
		n.useType(t.Elem())
	case *types.Slice:
		n.useType(t.Elem())
	case *types.Array:
		n.useType(t.Elem())
	case *types.Map:
		n.useType(t.Key())
		n.useType(t.Elem())
	case *types.Struct:
		for i := range t.NumFields() {
			n.useType(t.Field(i).Type())
		}
	}
}

func (n *names) useObj(obj *types.TypeName, args *types.TypeList) {
	if p := obj.Pkg(); p != nil && p != n.pkg {
		n.use(p.Path(), p.Name())
	}
	for i := range args.Len() {
		n.useType(args.At(i))
	}
}

// declare tells f the import names chosen. A name that is not the last
// element of the path is written as an explicit alias, as goimports would.
func (n *names) declare(f *jen.File) {
	for p, name := range n.imports {
		if name == path.Base(p) {
			f.ImportName(p, name)
		} else {
			f.ImportAlias(p, name)
		}
	}
}

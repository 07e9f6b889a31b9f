package gen

import (
	"fmt"
	"go/types"
	"strconv"

	"github.com/dave/jennifer/jen"
)

// typ spells t in the generated file. The check stage has made sure t can
// be spelled there; a type that cannot is an internal error, kept in r.err.
func (r *renderer) typ(t types.Type) jen.Code {
	switch t := t.(type) {
	case *types.Basic:
		return jen.Id(t.Name())
	case *types.Alias:
		if spellable(r.pkg, t.Obj()) {
			return r.qual(t.Obj(), t.TypeArgs())
		}
		return r.typ(types.Unalias(t))
	case *types.Named:
		return r.qual(t.Obj(), t.TypeArgs())
	case *types.Pointer:
		return jen.Op("*").Add(r.typ(t.Elem()))
	case *types.Slice:
		return jen.Index().Add(r.typ(t.Elem()))
	case *types.Array:
		return jen.Index(jen.Lit(int(t.Len()))).Add(r.typ(t.Elem()))
	case *types.Map:
		return jen.Map(r.typ(t.Key())).Add(r.typ(t.Elem()))
	case *types.Struct:
		return jen.StructFunc(func(g *jen.Group) {
			for i := range t.NumFields() {
				f := t.Field(i)
				field := jen.Null()
				if !f.Embedded() {
					field = jen.Id(f.Name())
				}
				field.Add(r.typ(f.Type()))
				switch tag := t.Tag(i); {
				case tag == "":
				case strconv.CanBackquote(tag):
					field.Op("`" + tag + "`")
				default:
					field.Lit(tag)
				}
				g.Add(field)
			}
		})
	}
	if r.err == nil {
		r.err = fmt.Errorf("internal error: cannot spell type %s (%T) in generated code; please report it", t, t)
	}
	return jen.Null()
}

// qual spells the named type obj, instantiated with args if it is generic.
func (r *renderer) qual(obj *types.TypeName, args *types.TypeList) jen.Code {
	var name *jen.Statement
	if obj.Pkg() == nil {
		name = jen.Id(obj.Name())
	} else {
		name = jen.Qual(obj.Pkg().Path(), obj.Name())
	}
	if args.Len() == 0 {
		return name
	}
	codes := make([]jen.Code, args.Len())
	for i := range args.Len() {
		codes[i] = r.typ(args.At(i))
	}
	return name.Types(codes...)
}

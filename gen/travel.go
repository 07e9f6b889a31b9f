package gen

import (
	"go/token"
	"go/types"
)

// A flaw is why a type cannot travel to a child process: the part of the
// type at fault and what to do about it.
type flaw struct {
	// typ is the part of the type at fault, when field is empty.
	typ types.Type
	// field is the struct field at fault ("Config.done"), if any.
	field string
	// msg says, after typ or field, what is wrong and how to fix it.
	msg string
}

// sentence is the flaw as a clause of its own ("chan int cannot be ...").
func (f *flaw) sentence(q types.Qualifier) string {
	if f.field != "" {
		return "field " + f.field + " " + f.msg
	}
	return types.TypeString(f.typ, q) + " " + f.msg
}

// about explains the flaw of t, the type of subject ("parameter ch").
func (f *flaw) about(subject string, t types.Type, q types.Qualifier) string {
	return subject + " has type " + types.TypeString(t, q) + f.tail(t, q)
}

// tail is what follows "... has type t" in an explanation.
func (f *flaw) tail(t types.Type, q types.Qualifier) string {
	if f.field == "" && types.Identical(f.typ, t) {
		return ", which " + f.msg
	}
	return ": " + f.sentence(q)
}

const (
	cannotSend   = "cannot be sent to a child process"
	marshalerFix = "implement gob.GobEncoder and gob.GobDecoder on "
)

// A traveler decides which types can be sent to a child process and back:
// those that encoding/gob encodes without loss.
type traveler struct {
	pkg  *types.Package // the package the generated code belongs to
	q    types.Qualifier
	done map[string]*flaw // named types checked or being checked
}

func newTraveler(pkg *types.Package) *traveler {
	return &traveler{
		pkg:  pkg,
		q:    func(p *types.Package) string { return qualify(pkg, p) },
		done: map[string]*flaw{},
	}
}

// qualify names package p in type strings written for package pkg.
func qualify(pkg, p *types.Package) string {
	if p == pkg {
		return ""
	}
	return p.Name()
}

// value returns why a parameter or result of type t cannot travel, or nil.
// Besides being encodable, t must be a type the generated code can name.
func (c *traveler) value(t types.Type) *flaw {
	if f := c.nameable(t); f != nil {
		return f
	}
	return c.check(t)
}

// check returns why values of type t would not survive encoding/gob, or nil.
func (c *traveler) check(t types.Type) *flaw {
	switch t := t.(type) {
	case *types.Alias:
		return c.check(types.Unalias(t))
	case *types.Named:
		key := types.TypeString(t, nil)
		if f, ok := c.done[key]; ok {
			return f // nil while in progress: a recursive type is fine
		}
		c.done[key] = nil
		var f *flaw
		if isHandle(t) {
			f = &flaw{typ: t, msg: "is a handle of the mpgen runtime: it travels to a child only as a target parameter of its own, of type *" + types.TypeString(t, c.q) + ", and cannot be returned or sit inside another value"}
		} else if !c.marshals(t) {
			f = c.under(t, t.Underlying())
		}
		c.done[key] = f
		return f
	default:
		return c.under(t, t)
	}
}

// under checks u, the underlying type of t.
func (c *traveler) under(t, u types.Type) *flaw {
	switch u := u.(type) {
	case *types.Basic:
		switch u.Kind() {
		case types.Uintptr, types.UnsafePointer:
			return &flaw{typ: t, msg: cannotSend + ", as an address means nothing in another process; pass the data it points to instead"}
		case types.Invalid:
			return &flaw{typ: t, msg: "is invalid; fix the type errors first"}
		}
		return nil
	case *types.Pointer:
		return c.check(u.Elem())
	case *types.Slice:
		return c.check(u.Elem())
	case *types.Array:
		return c.check(u.Elem())
	case *types.Map:
		if f := c.check(u.Key()); f != nil {
			return f
		}
		return c.check(u.Elem())
	case *types.Struct:
		return c.fields(t, u)
	case *types.Chan:
		return &flaw{typ: t, msg: cannotSend + "; pass the values it carries instead"}
	case *types.Signature:
		return &flaw{typ: t, msg: cannotSend + "; make the function a target of its own, or pass data that tells the child what to do"}
	case *types.Interface:
		return &flaw{typ: t, msg: cannotSend + ", as mpgen cannot know the dynamic type it holds; use a concrete type instead"}
	case *types.TypeParam:
		return &flaw{typ: t, msg: "is a type parameter, and generic targets are not supported; use a concrete type"}
	}
	return &flaw{typ: t, msg: cannotSend}
}

// fields checks the fields of struct s, the underlying type of t. Each field
// must be exported (gob drops the others without a word) and travel.
func (c *traveler) fields(t types.Type, s *types.Struct) *flaw {
	name := types.TypeString(t, c.q)
	exported := 0
	for i := range s.NumFields() {
		f := s.Field(i)
		if f.Name() == "_" {
			continue // padding: holds nothing to lose
		}
		if !f.Exported() {
			return &flaw{field: name + "." + f.Name(), msg: "is unexported, so it would not reach the child process; export it, or " + marshalerFix + name}
		}
		exported++
		inner := c.check(f.Type())
		if inner == nil {
			continue
		}
		if inner.field != "" {
			return inner
		}
		return &flaw{field: name + "." + f.Name(), msg: "has type " + types.TypeString(f.Type(), c.q) + inner.tail(f.Type(), c.q)}
	}
	if exported == 0 {
		return &flaw{typ: t, msg: "has no exported fields, so none of it would reach the child process; export a field, or " + marshalerFix + "it"}
	}
	return nil
}

// marshals reports whether t or *t encodes and decodes itself, one of the
// ways encoding/gob honours. Such a type travels whatever its fields are.
func (c *traveler) marshals(t *types.Named) bool {
	if types.IsInterface(t) {
		return false
	}
	ptr := types.NewPointer(t)
	for _, pair := range marshalers {
		enc := types.Implements(t, pair[0]) || types.Implements(ptr, pair[0])
		if enc && types.Implements(ptr, pair[1]) {
			return true
		}
	}
	return false
}

// marshalers are the pairs of interfaces encoding/gob uses, in its order of
// preference: gob.GobEncoder, encoding.BinaryMarshaler, encoding.TextMarshaler
// and their decoding halves.
var marshalers = [][2]*types.Interface{
	{method("GobEncode", false), method("GobDecode", true)},
	{method("MarshalBinary", false), method("UnmarshalBinary", true)},
	{method("MarshalText", false), method("UnmarshalText", true)},
}

// method returns interface{ name() ([]byte, error) } or, for a decoder,
// interface{ name([]byte) error }.
func method(name string, decode bool) *types.Interface {
	bytes := types.NewVar(token.NoPos, nil, "", types.NewSlice(types.Typ[types.Byte]))
	errv := types.NewVar(token.NoPos, nil, "", types.Universe.Lookup("error").Type())
	params, results := types.NewTuple(), types.NewTuple(bytes, errv)
	if decode {
		params, results = types.NewTuple(bytes), types.NewTuple(errv)
	}
	sig := types.NewSignatureType(nil, nil, nil, params, results, false)
	iface := types.NewInterfaceType([]*types.Func{types.NewFunc(token.NoPos, nil, name, sig)}, nil)
	return iface.Complete()
}

// handleParam returns why a parameter of type t, a pointer to a handle, cannot
// travel, or nil. The handle itself travels as descriptors; the values it
// carries (T of Conn[T]) are encoded and must travel like any value, or be
// handles themselves (a Conn sent through a Queue).
func (c *traveler) handleParam(t types.Type) *flaw {
	if f := c.nameable(t); f != nil {
		return f
	}
	n := types.Unalias(types.Unalias(t).(*types.Pointer).Elem()).(*types.Named)
	for i := range n.TypeArgs().Len() {
		arg := n.TypeArgs().At(i)
		check := c.check
		if isHandlePointer(arg) {
			check = c.handleParam
		}
		if f := check(arg); f != nil {
			return f
		}
	}
	return nil
}

// isHandlePointer reports whether t is a pointer to a handle type.
func isHandlePointer(t types.Type) bool {
	p, ok := types.Unalias(t).(*types.Pointer)
	if !ok {
		return false
	}
	n, ok := types.Unalias(p.Elem()).(*types.Named)
	return ok && isHandle(n)
}

// isHandle reports whether n is one of the runtime's handle types (Conn,
// Queue, the locks, Value, Array, SharedMemory): those whose pointer has the
// runtime's unexported mpExport method.
func isHandle(n *types.Named) bool {
	obj := n.Obj()
	if obj.Pkg() == nil || obj.Pkg().Path() != runtimePath {
		return false
	}
	ms := types.NewMethodSet(types.NewPointer(n))
	return ms.Lookup(obj.Pkg(), "mpExport") != nil
}

// nameable returns why the generated code, which lives in c.pkg, cannot
// spell t, or nil if it can.
func (c *traveler) nameable(t types.Type) *flaw {
	switch t := t.(type) {
	case *types.Alias:
		if spellable(c.pkg, t.Obj()) {
			return c.typeArgs(t.TypeArgs())
		}
		return c.nameable(types.Unalias(t))
	case *types.Named:
		obj := t.Obj()
		if !spellable(c.pkg, obj) {
			return &flaw{typ: t, msg: "is not exported by package " + obj.Pkg().Name() + ", so the generated code cannot name it; use an exported type instead"}
		}
		return c.typeArgs(t.TypeArgs())
	case *types.Pointer:
		return c.nameable(t.Elem())
	case *types.Slice:
		return c.nameable(t.Elem())
	case *types.Array:
		return c.nameable(t.Elem())
	case *types.Map:
		if f := c.nameable(t.Key()); f != nil {
			return f
		}
		return c.nameable(t.Elem())
	case *types.Struct:
		for i := range t.NumFields() {
			if f := c.nameable(t.Field(i).Type()); f != nil {
				return f
			}
		}
	}
	return nil
}

func (c *traveler) typeArgs(list *types.TypeList) *flaw {
	for i := range list.Len() {
		if f := c.nameable(list.At(i)); f != nil {
			return f
		}
	}
	return nil
}

// spellable reports whether code in pkg can refer to the package-level
// type name obj.
func spellable(pkg *types.Package, obj *types.TypeName) bool {
	return obj.Pkg() == nil || obj.Pkg() == pkg || obj.Exported()
}

package gen

import (
	"go/token"
	"go/types"
	"strconv"
)

// A target is a function or type annotated with //mp:target, as the check
// stage understood it. It is what the generated code registers.
type target struct {
	// Name is the registered name: the directive's argument, or the package
	// path (plain "main" in package main), a dot and Ident.
	Name string
	// Pos is the position of the declared identifier.
	Pos token.Position
	// Ident is the Go identifier of the function or type.
	Ident string
	// Kind says whether the body is the function itself or a Run method.
	Kind kind
	// Context reports whether the body takes a leading context.Context.
	Context bool
	// Params are the serialized parameters, in order. A type target has
	// exactly one, the value of the type itself, with an empty name.
	Params []param
	// Variadic reports whether the last parameter is variadic; its Type is
	// then the slice type.
	Variadic bool
	// Result is the type of the value result, or nil when there is none.
	Result types.Type
	// Error reports whether the body returns an error.
	Error bool
}

// A param is a serialized parameter of a target.
type param struct {
	// Name is the declared name, or "" for an unnamed or blank parameter.
	Name string
	// Type is the parameter's type.
	Type types.Type
}

// A kind says what kind of declaration a target is.
type kind int

const (
	// funcKind is a top-level function, called with the arguments.
	funcKind kind = iota + 1
	// typeKind is a named type whose Run method is the body; the value
	// itself, with its exported fields, is the state that travels.
	typeKind
)

// String returns "func" or "type".
func (k kind) String() string {
	switch k {
	case funcKind:
		return "func"
	case typeKind:
		return "type"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

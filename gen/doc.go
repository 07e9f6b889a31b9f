// Package gen is the mpgen code generator as a library; cmd/mpgen is its
// command.
//
// A target is a top-level function, or a named type whose Run method is the
// body, with a //mp:target line in its doc comment:
//
//	//mp:target
//	func resize(ctx context.Context, path string, width int) error
//
//	//mp:target thumbs
//	type Thumbnailer struct{ Dir string; Size int }
//
//	func (t *Thumbnailer) Run(ctx context.Context) ([]string, error)
//
// For each package, Generate loads the code with go/packages, finds the
// directives, checks that every parameter and result can travel to a child
// process and back, and renders a file (zz_mpgen.go by default) whose init
// function registers the targets with the runtime and, in package main,
// installs the main guard. User code never refers to what that file
// declares, so a package loads the same with the file missing or stale.
//
// The stages work on plain data: find and check produce a [Target] per
// annotated declaration, which render turns into Go source. Problems with
// the input are *[Error] values, all of them, each at its position.
package gen

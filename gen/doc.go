// Package gen is the mpgen code generator as a library. Its one user is the
// command, cmd/mpgen (run by go generate, or by go tool mpgen); it never
// imports the runtime, and the runtime never imports it: the two meet only
// in the code gen writes, which imports github.com/mpgen/mpgen/runtime/mpimpl.
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
// Generate is a pipeline, one file per stage:
//
//   - load (load.go): the packages, with go/packages, as if mpgen's earlier
//     output were empty, so that a stale or missing file never stops them
//     from loading; and again as other builds compile them (builds.go,
//     constraint.go), for the files with targets that the current build
//     leaves out (x_windows.go on Linux, cgo files with CGO_ENABLED=0);
//   - find (find.go, directive.go): the //mp:target lines and the
//     declarations they annotate;
//   - check (check.go, travel.go): that every parameter and result can
//     travel to a child process and back, giving a plain target struct per
//     declaration;
//   - render (render.go, typecode.go): the file (zz_mpgen.go by default)
//     whose init function registers the targets, and their package's errors,
//     with the runtime and, in package main, installs the main guard; the
//     targets of a file with build constraints go to a file of their own
//     with the same constraints (zz_mpgen-x_windows.go), so that the
//     generated code builds wherever the package does;
//   - write (write.go): Result.Commit, which writes the file only when its
//     bytes change. Generate itself writes nothing.
//
// Problems with the input are *Error values, all of them, each at its
// position. The generated files depend only on the targets, not on where
// they are in their files nor on the build mpgen runs in, so moving a
// target, editing comments or running mpgen on another OS leaves them as
// they are. User code never refers to what the file declares, so mpgen
// loads a package the same with the file missing or stale.
package gen

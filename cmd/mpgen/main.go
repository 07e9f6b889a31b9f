// Command mpgen generates the code that lets a Go program run its functions
// in child processes with github.com/mpgen/mpgen/runtime.
//
// Mark a top-level function, or a type whose Run method is the body, with
// a //mp:target line in its doc comment, and run mpgen in the package, and
// in package main, which gets the main guard when the program links the
// runtime, even without targets of its own.
// Add mpgen to your module as a tool (Go 1.24+), so that go.mod pins it with
// the runtime and keeps its dependencies:
//
//	go get -tool github.com/mpgen/mpgen/cmd/mpgen
//
// and write in each package:
//
//	//go:generate go tool mpgen
//
// Usage:
//
//	mpgen [-check] [-v] [-tags list] [-output file] [packages]
//
// mpgen writes one file per package (zz_mpgen.go unless -output says
// otherwise), and one more per source file with build constraints that holds
// targets (zz_mpgen-x_linux.go for x_linux.go, with the same constraints),
// only when their content changes, and removes earlier ones that are no
// longer needed. The files are the same whatever OS, architecture, cgo
// setting and -tags mpgen runs with. With -check it writes nothing: it lists
// the generated files that are out of date on standard output and exits 1 if
// there are any. Problems in the packages are reported all at once, as
// file:line:col: message, package by package and sorted by position.
//
// Exit codes: 0 success, 1 bad input or (with -check) stale files, 2 usage.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

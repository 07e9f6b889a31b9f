// Command mpgen runs the core module's cmd/mpgen in the current directory,
// for the packages of this nested module:
//
//	//go:generate go run github.com/mpgen/mpgen/mpotel/internal/mpgen
//	go run ./internal/mpgen -check ./...    # from mpotel/: list stale files, exit 1 if any
//
// The work is the core module's internal/nestedgen (see there why).
package main

import (
	"os"

	"github.com/mpgen/mpgen/internal/nestedgen"
)

func main() { os.Exit(nestedgen.Run("mpotel", os.Args[1:])) }

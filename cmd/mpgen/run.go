package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/mpgen/mpgen/gen"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // bad input, stale files with -check, or a file not written
	exitUsage = 2
)

const usage = `usage: mpgen [-check] [-v] [-tags list] [-output file] [packages]

mpgen writes, in each package, the file that registers its //mp:target
functions and types with the mpgen runtime, and installs the main guard in
package main. Packages default to ".".

Flags:
`

// run is mpgen with its arguments and output streams; it returns the exit
// code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	logger := log.New(stderr, "mpgen: ", 0)
	flags := flag.NewFlagSet("mpgen", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), usage)
		flags.PrintDefaults()
	}
	check := flags.Bool("check", false, "write nothing; list the generated files that are out of date and exit 1 if there are any")
	verbose := flags.Bool("v", false, "log the packages loaded and the files written")
	tags := flags.String("tags", "", "comma-separated list of build tags to load the packages with")
	output := flags.String("output", gen.DefaultOutput, "name of the generated file in each package's directory")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	patterns := flags.Args()
	if len(patterns) == 0 {
		patterns = []string{"."}
	}
	short := shortener()

	opts := &gen.Options{Tags: splitTags(*tags), Output: *output}
	if *verbose {
		opts.Logf = logger.Printf
	}
	results, errs := gen.Generate(ctx, "", nil, patterns, opts)
	for _, err := range errs {
		if errors.Is(err, gen.ErrOptions) {
			logger.Print(err)
			return exitUsage
		}
	}
	// The problems of the run, then those of each package, sorted by
	// position; an import cycle is the error of every package in it, and is
	// printed once.
	printed := map[string]bool{}
	for _, r := range results {
		errs = append(errs, r.Errs...)
	}
	for _, err := range errs {
		if msg := short(err.Error()); !printed[msg] {
			printed[msg] = true
			logger.Print(msg)
		}
	}
	ok := len(errs) == 0
	stale := 0
	for _, r := range results {
		if len(r.Errs) > 0 {
			continue // not written, and reported above
		}
		var changed bool
		var err error
		if *check {
			changed, err = r.Stale()
		} else {
			changed, err = r.Commit()
		}
		switch {
		case err != nil:
			logger.Print(short(err.Error()))
			ok = false
		case *check && changed:
			fmt.Fprintln(stdout, short(r.OutputPath))
			stale++
		case !*verbose:
		case changed && r.Content == nil:
			logger.Printf("removed %s", short(r.OutputPath))
		case changed:
			logger.Printf("wrote %s", short(r.OutputPath))
		case r.Content != nil:
			logger.Printf("%s is up to date", short(r.OutputPath))
		}
	}
	switch {
	case stale == 1:
		logger.Print("1 generated file is out of date: run go generate")
	case stale > 1:
		logger.Printf("%d generated files are out of date: run go generate", stale)
	}
	if !ok || stale > 0 {
		return exitFail
	}
	return exitOK
}

// splitTags splits a -tags value, comma-separated as go build takes it.
func splitTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// shortener returns a function that makes the paths in a message relative
// to the working directory where they lie below it, as the go command
// does with the compiler's messages: gen reports absolute paths.
func shortener() func(string) string {
	wd, err := os.Getwd()
	if err != nil || wd == string(filepath.Separator) {
		return func(s string) string { return s }
	}
	prefix := wd + string(filepath.Separator)
	return func(s string) string { return strings.ReplaceAll(s, prefix, "") }
}

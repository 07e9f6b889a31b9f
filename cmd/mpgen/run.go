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
	exitFail  = 1 // bad input, stale files with -check, or a file that could not be written
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
	if filepath.Base(*output) != *output || !strings.HasSuffix(*output, ".go") {
		logger.Printf("-output %q: want a file name ending in .go, without a directory", *output)
		return exitUsage
	}
	patterns := flags.Args()
	if len(patterns) == 0 {
		patterns = []string{"."}
	}

	opts := &gen.Options{Tags: splitTags(*tags), Output: *output}
	if *verbose {
		opts.Logf = logger.Printf
	}
	results, errs := gen.Generate(ctx, "", nil, patterns, opts)
	for _, r := range results {
		errs = append(errs, r.Errs...)
	}
	gen.SortErrors(errs)
	for _, err := range errs {
		logger.Print(err)
	}
	code := exitOK
	if len(errs) > 0 {
		code = exitFail
	}

	stale := 0
	for _, r := range results {
		if len(r.Errs) > 0 {
			continue
		}
		changed, err := r.Stale()
		if err != nil {
			logger.Print(err)
			code = exitFail
			continue
		}
		switch {
		case *check && changed:
			fmt.Fprintln(stdout, relative(r.OutputPath))
			stale++
		case *check:
		case !changed:
			if *verbose {
				logger.Printf("%s is up to date", relative(r.OutputPath))
			}
		default:
			if err := r.Commit(); err != nil {
				logger.Print(err)
				code = exitFail
				continue
			}
			if *verbose {
				verb := "wrote"
				if r.Content == nil {
					verb = "removed"
				}
				logger.Printf("%s %s", verb, relative(r.OutputPath))
			}
		}
	}
	switch {
	case stale == 1:
		logger.Print("1 generated file is out of date: run go generate")
		code = exitFail
	case stale > 1:
		logger.Printf("%d generated files are out of date: run go generate", stale)
		code = exitFail
	}
	return code
}

// splitTags splits a -tags value, comma-separated as go build takes it.
func splitTags(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// relative returns path relative to the working directory when it lies
// below it.
func relative(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return rel
}

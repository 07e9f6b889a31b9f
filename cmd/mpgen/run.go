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
	printed := map[string]bool{} // an import cycle is every cycle member's error
	for _, err := range errs {
		if msg := err.Error(); !printed[msg] {
			printed[msg] = true
			logger.Print(msg)
		}
	}
	ok := len(errs) == 0
	if *check {
		ok = checkFiles(results, stdout, logger) && ok
	} else {
		ok = writeFiles(results, *verbose, logger) && ok
	}
	if !ok {
		return exitFail
	}
	return exitOK
}

// checkFiles lists on stdout the generated files of the packages without
// errors that are out of date, and reports whether there are none.
func checkFiles(results []gen.Result, stdout io.Writer, logger *log.Logger) bool {
	stale, ok := 0, true
	for _, r := range results {
		if len(r.Errs) > 0 {
			continue
		}
		changed, err := r.Stale()
		if err != nil {
			logger.Print(err)
			ok = false
		}
		if changed {
			fmt.Fprintln(stdout, relative(r.OutputPath))
			stale++
		}
	}
	switch {
	case stale == 1:
		logger.Print("1 generated file is out of date: run go generate")
	case stale > 1:
		logger.Printf("%d generated files are out of date: run go generate", stale)
	}
	return ok && stale == 0
}

// writeFiles commits the results without errors, and reports whether every
// commit succeeded.
func writeFiles(results []gen.Result, verbose bool, logger *log.Logger) bool {
	ok := true
	for _, r := range results {
		if len(r.Errs) > 0 {
			continue
		}
		changed, err := r.Stale()
		if err == nil && changed {
			err = r.Commit()
		}
		switch {
		case err != nil:
			logger.Print(err)
			ok = false
		case !verbose:
		case changed && r.Content == nil:
			logger.Printf("removed %s", relative(r.OutputPath))
		case changed:
			logger.Printf("wrote %s", relative(r.OutputPath))
		case r.Content != nil:
			logger.Printf("%s is up to date", relative(r.OutputPath))
		}
	}
	return ok
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

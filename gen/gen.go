package gen

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

// DefaultOutput is the name of the generated file in each package. It sorts
// after the usual file names, so that the guard it installs in package main
// runs after the package's other init functions.
const DefaultOutput = "zz_mpgen.go"

// Options are the knobs of Generate. The zero value works.
type Options struct {
	// Tags are build tags to load the packages with.
	Tags []string
	// Output is the file name of the generated file in each package's
	// directory; "" means DefaultOutput.
	Output string
	// Logf, if not nil, receives progress messages.
	Logf func(format string, args ...any)
}

// Result is the outcome of Generate for one package.
type Result struct {
	// PkgPath is the package's import path.
	PkgPath string
	// Dir is the package's directory.
	Dir string
	// OutputPath is the path of the generated file.
	OutputPath string
	// Content is the generated file, or nil when the package needs none:
	// it is not main and has no targets. Commit then removes an earlier
	// generated file.
	Content []byte
	// Errs are the problems found in the package, sorted by position. When
	// there are any, Content is nil and Commit refuses to write.
	Errs []error

	// targets are the package's targets, in name order, as the generated
	// file registers them (for the package's tests).
	targets []target
}

// ErrOptions is what the error of Generate wraps when it cannot work with
// its Options, such as an Output that is not the name of a Go file.
var ErrOptions = errors.New("invalid options")

// Generate runs mpgen on the packages that patterns match, loaded with the
// go command in dir with the environment env (nil means the current one),
// and returns one Result per package. The returned errors are those that
// concern no single package, such as a go command that could not run or
// Options it cannot work with (wrapping ErrOptions); the problems of each
// package are in its Result. Generate writes nothing: call Commit on the
// results for that.
func Generate(ctx context.Context, dir string, env []string, patterns []string, opts *Options) ([]Result, []error) {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	if o.Output == "" {
		o.Output = DefaultOutput
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if err := checkOutput(o.Output); err != nil {
		return nil, []error{err}
	}
	abs, err := absDir(dir)
	if err != nil {
		return nil, []error{err}
	}
	o.Logf("loading %s", strings.Join(patterns, " "))
	pkgs, err := load(ctx, abs, env, patterns, &o)
	if err != nil {
		return nil, []error{err}
	}

	// Duplicate names are known once every package is analysed: render last.
	r := &run{opts: &o, dir: abs, seen: map[*packages.Package]bool{}}
	results := make([]Result, len(pkgs))
	for i, pkg := range pkgs {
		results[i] = r.analyze(pkg)
	}
	for i, pkg := range pkgs {
		r.finish(&results[i], pkg)
	}
	return results, nil
}

// run is the state of one call of Generate.
type run struct {
	opts  *Options
	dir   string                     // absolute
	seen  map[*packages.Package]bool // whose load errors were reported
	names nameTable
}

// analyze finds and checks the targets of pkg.
func (r *run) analyze(pkg *packages.Package) Result {
	res := Result{PkgPath: pkg.PkgPath, Dir: pkg.Dir}
	if pkg.Dir != "" {
		res.OutputPath = filepath.Join(pkg.Dir, r.opts.Output)
	}
	if pkg.PkgPath == "command-line-arguments" {
		res.Errs = append(res.Errs, &Error{Msg: "mpgen works on packages, not on lists of files: name the package's directory or import path instead"})
		return res
	}
	res.Errs = loadErrors(pkg, r.dir, r.seen)
	typesOK := len(res.Errs) == 0 && pkg.Types != nil

	// Directives need no types: report their problems in any case.
	found, errs := find(pkg)
	res.Errs = append(res.Errs, errs...)
	r.names.add(pkg, found)
	if pkg.Dir != "" {
		errs, err := findInTests(pkg.Dir)
		res.Errs = append(res.Errs, errs...)
		if err != nil {
			res.Errs = append(res.Errs, err)
		}
	}
	res.Errs = append(res.Errs, lateInits(pkg, r.opts.Output)...)
	if !typesOK {
		return res // checking against broken types would only add noise
	}
	res.targets, errs = check(pkg, found)
	res.Errs = append(res.Errs, errs...)
	r.opts.Logf("%s: %d targets", pkg.PkgPath, len(res.targets))
	return res
}

// finish adds the duplicate-name errors of pkg to res and, if it has no
// errors, renders its file.
func (r *run) finish(res *Result, pkg *packages.Package) {
	res.Errs = append(res.Errs, r.names.duplicates(pkg)...)
	if len(res.Errs) > 0 {
		res.targets = nil
		sortErrors(res.Errs)
		return
	}
	if len(res.targets) == 0 && pkg.Name != "main" {
		return
	}
	// In name order, not source order: moving a target within its package
	// leaves the generated file as it is.
	slices.SortFunc(res.targets, func(a, b target) int { return strings.Compare(a.Name, b.Name) })
	u := &unit{pkg: pkg.Types, prefix: namePrefix(pkg), targets: res.targets, guard: pkg.Name == "main"}
	if len(res.targets) > 0 {
		u.sentinels, u.errTypes = errorValues(pkg.Types, newTraveler(pkg.Types))
	}
	content, err := render(u)
	if err != nil {
		res.Errs = append(res.Errs, err)
		return
	}
	res.Content = content
}

// checkOutput makes sure name can be the generated file: a plain Go file name
// that the go command compiles.
func checkOutput(name string) error {
	if filepath.Base(name) != name || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
		strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return optionError(fmt.Sprintf("invalid output file name %q: want the name of a non-test Go file, like %s", name, DefaultOutput))
	}
	return nil
}

// An optionError is a problem with Options; it matches ErrOptions.
type optionError string

func (e optionError) Error() string        { return string(e) }
func (e optionError) Is(target error) bool { return target == ErrOptions }

package gen

import (
	"context"
	"errors"
	"fmt"
	"go/types"
	"maps"
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

// Result is one file that Generate would write: a package's output file
// (Options.Output), or the file that registers the targets of one of its
// source files with build constraints (zz_mpgen-x_linux.go for x_linux.go).
type Result struct {
	// PkgPath is the package's import path.
	PkgPath string
	// Dir is the package's directory.
	Dir string
	// OutputPath is the path of the generated file.
	OutputPath string
	// Content is the generated file, or nil when the package needs none:
	// it has no targets there and, for the output file, is not a main
	// package that links the runtime. Commit then removes an earlier
	// generated file.
	Content []byte
	// Errs are the problems found in the package, sorted by position. When
	// there are any, this is the package's only Result, Content is nil and
	// Commit refuses to write.
	Errs []error

	// targets are the targets the file registers, in name order (for the
	// package's tests).
	targets []target
}

// ErrOptions is what the error of Generate wraps when it cannot work with
// its Options, such as an Output that is not the name of a Go file.
var ErrOptions = errors.New("invalid options")

// Generate runs mpgen on the packages that patterns match, loaded with the
// go command in dir with the environment env (nil means the current one),
// and returns the Results of each package: its output file first, then one
// per source file with build constraints that holds targets, and one with no
// Content per such file of mpgen's that is no longer needed. The returned errors are those that
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
	l, err := load(ctx, abs, env, patterns, &o)
	if err != nil {
		return nil, []error{err}
	}

	r := &run{opts: &o, dir: abs, env: env, overlay: l.overlay, listed: l.listed,
		seen: map[*packages.Package]bool{}, files: map[string]*srcFile{}, linked: map[string][]linkedTarget{}}
	runs := make([]*pkgRun, len(l.pkgs))
	for i, pkg := range l.pkgs {
		runs[i] = r.analyze(pkg)
	}
	if err := r.otherBuilds(ctx, runs); err != nil {
		return nil, []error{err}
	}
	// Duplicate names are known once every package is analysed: render last.
	roots := map[string]bool{}
	for _, p := range runs {
		r.names.add(r, p)
		roots[p.pkg.ID] = true
	}
	for _, p := range runs {
		p.errs = append(p.errs, r.linkedDuplicates(p, roots)...)
	}
	var results []Result
	for _, p := range runs {
		results = append(results, r.finish(p)...)
	}
	return results, nil
}

// run is the state of one call of Generate.
type run struct {
	opts    *Options
	dir     string // absolute
	env     []string
	overlay map[string][]byte            // mpgen's files, blanked
	listed  map[string]*packages.Package // the packages and their dependencies, by ID
	linked  map[string][]linkedTarget    // the targets of dependencies read so far, by package ID
	seen    map[*packages.Package]bool   // whose load errors were reported
	names   nameTable
	files   map[string]*srcFile // the constraints of the files read so far
	base    *config             // the current build, once known
	host    string              // the machine's GOOS/GOARCH, once known
}

// A pkgRun is one package of the run: what mpgen found in it, in the
// current build (the go command's settings) and in the builds that compile
// the files the current one leaves out.
type pkgRun struct {
	pkg        *packages.Package // in the current build
	errs       []error
	found      []target // the targets found, in every build
	targets    []target // those that passed the check
	errVals    []errValue
	hasTargets bool                      // in some build
	checkedBy  map[string]*types.Package // source file -> the build that checked it
	left       []*srcFile                // files left out of the current build that mpgen must check in another
	declared   map[string]bool           // package-level names in all the package's files
}

// analyze finds and checks the targets of pkg in the current build, and
// notes the files of pkg that other builds compile and that matter to the
// generated code.
func (r *run) analyze(pkg *packages.Package) *pkgRun {
	p := &pkgRun{pkg: pkg, checkedBy: map[string]*types.Package{}, declared: map[string]bool{}}
	if pkg.PkgPath == "command-line-arguments" {
		p.errs = append(p.errs, &Error{Msg: "mpgen works on packages, not on lists of files: name the package's directory or import path instead"})
		return p
	}
	p.errs = loadErrors(pkg, r.dir, r.seen)
	if hasSyntaxErrors(pkg) {
		return p // the syntax error alone: the rest of the tree is the parser's guess
	}
	typesOK := len(p.errs) == 0 && pkg.Types != nil

	// Directives need no types: report their problems in any case.
	found, errs := find(pkg)
	p.errs = append(p.errs, errs...)
	p.found = found
	if pkg.Dir != "" {
		errs, err := findInTests(pkg.Dir)
		p.errs = append(p.errs, errs...)
		if err != nil {
			p.errs = append(p.errs, err)
		}
	}
	p.errs = append(p.errs, lateInits(pkg.Fset, pkg.Syntax, r.opts.Output)...)
	declaredNames(pkg.Syntax, p.declared)
	withDirectives, withDecls := r.leftOut(p)
	p.hasTargets = len(found) > 0 || len(withDirectives) > 0
	if !typesOK {
		return p // checking against broken types would only add noise
	}
	p.targets, errs = check(pkg, found)
	p.errs = append(p.errs, errs...)
	for _, t := range p.targets {
		p.checkedBy[t.Pos.Filename] = pkg.Types
	}
	if p.hasTargets {
		p.errVals = errorValues(pkg, newTraveler(pkg.Types), func(string) bool { return true })
		for _, v := range p.errVals {
			p.checkedBy[v.file] = pkg.Types
		}
		p.left = append(withDirectives, withDecls...)
	} else {
		p.left = withDirectives
	}
	r.opts.Logf("%s: %d targets", pkg.PkgPath, len(p.targets))
	return p
}

// finish returns the results of p: the package's output file, then one per
// constrained file with targets or errors (see constrainedOutput), then an
// empty one for each earlier constrained output that is no longer needed,
// so that Commit removes it. A package with errors has only its output
// file's result, which carries the errors.
func (r *run) finish(p *pkgRun) []Result {
	pkg := p.pkg
	main := Result{PkgPath: pkg.PkgPath, Dir: pkg.Dir}
	if pkg.Dir != "" {
		main.OutputPath = filepath.Join(pkg.Dir, r.opts.Output)
	}
	errs := append(p.errs, r.names.duplicates(pkg)...)
	if len(errs) > 0 {
		sortErrors(errs)
		main.Errs = errs
		return []Result{main}
	}

	prefix := namePrefix(pkg)
	mainUnit := &unit{pkg: pkg.Types, prefix: prefix, guard: r.needsGuard(p), taken: p.declared}
	others := map[string]*unit{} // by file name
	unitOf := func(file string) (*unit, error) {
		f, err := r.srcFile(file)
		if err != nil || !f.constrained() {
			return mainUnit, err
		}
		name := constrainedOutput(r.opts.Output, file)
		if others[name] == nil {
			others[name] = &unit{pkg: p.checkedBy[file], prefix: prefix, build: f.buildLine(), taken: p.declared}
		}
		return others[name], nil
	}
	// In name order, not source order: moving a target within its package
	// leaves the generated file as it is.
	slices.SortFunc(p.targets, func(a, b target) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(p.errVals, func(a, b errValue) int { return strings.Compare(a.name, b.name) })
	for _, t := range p.targets {
		u, err := unitOf(t.Pos.Filename)
		if err != nil {
			main.Errs = append(main.Errs, err)
		}
		u.targets = append(u.targets, t)
	}
	for _, v := range p.errVals {
		u, err := unitOf(v.file)
		if err != nil {
			main.Errs = append(main.Errs, err)
		}
		if v.sentinel != nil {
			u.sentinels = append(u.sentinels, v.sentinel)
		} else {
			u.errTypes = append(u.errTypes, v.typ)
		}
	}
	if len(main.Errs) > 0 {
		return []Result{main}
	}

	results := []Result{main}
	if len(mainUnit.targets) > 0 || len(mainUnit.sentinels) > 0 || len(mainUnit.errTypes) > 0 || mainUnit.guard {
		results[0].Content, results[0].targets = r.render(&results[0], mainUnit)
	}
	for _, name := range slices.Sorted(maps.Keys(others)) {
		res := Result{PkgPath: pkg.PkgPath, Dir: pkg.Dir, OutputPath: filepath.Join(pkg.Dir, name)}
		res.Content, res.targets = r.render(&res, others[name])
		results = append(results, res)
	}
	for _, path := range r.oldConstrainedOutputs(pkg.Dir) {
		if others[filepath.Base(path)] == nil {
			results = append(results, Result{PkgPath: pkg.PkgPath, Dir: pkg.Dir, OutputPath: path})
		}
	}
	// An error in one file of the package is the whole package's.
	for i := range results[1:] {
		if len(results[1+i].Errs) > 0 {
			results[0].Errs = append(results[0].Errs, results[1+i].Errs...)
			results[0].Content = nil
			return results[:1]
		}
	}
	return results
}

// render renders u for res, putting an internal error in res.Errs.
func (r *run) render(res *Result, u *unit) ([]byte, []target) {
	content, err := render(u)
	if err != nil {
		res.Errs = append(res.Errs, err)
		return nil, nil
	}
	return content, u.targets
}

// checkOutput makes sure name can be the generated file: a plain Go file name
// that the go command compiles.
func checkOutput(name string) error {
	if filepath.Base(name) != name || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
		strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return optionError(fmt.Sprintf("invalid output file name %q: want the name of a non-test Go file, like %s", name, DefaultOutput))
	}
	if e := nameConstraint(name); e != nil {
		return optionError(fmt.Sprintf("invalid output file name %q: the name limits the builds that compile the file (to %s); want a name without _GOOS or _GOARCH, like %s", name, e, DefaultOutput))
	}
	return nil
}

// An optionError is a problem with Options; it matches ErrOptions.
type optionError string

func (e optionError) Error() string        { return string(e) }
func (e optionError) Is(target error) bool { return target == ErrOptions }

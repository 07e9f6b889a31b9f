package gen

// Other builds. The go command loads a package as one build compiles it,
// for one GOOS, GOARCH, cgo setting and set of tags, and leaves out the
// files that build does not compile (x_windows.go on Linux, a file that
// imports "C" with CGO_ENABLED=0). mpgen must not drop their targets, and
// must write the same files whatever build it runs in. So the targets and
// errors of a constrained file are registered by a generated file of their
// own, which carries the same constraint (constrainedOutput); and for each
// file the current build leaves out that holds targets (or errors, in a
// package with targets), mpgen looks for a build that compiles it (solve)
// and loads the package again as that build does, to check them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

// leftOut reads the files of p's package that the current build leaves
// out, notes their package-level names, and returns those with directives
// and those that declare exported names (which may be errors to register).
// A file of another package (a program kept out of every build with
// //go:build ignore, say) is not the package's.
func (r *run) leftOut(p *pkgRun) (withDirectives, withDecls []*srcFile) {
	fset := token.NewFileSet()
	for _, path := range p.pkg.IgnoredFiles {
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := readSrcFile(fset, path, true)
		if err != nil {
			// A file that does not parse is in no build, unless it is
			// meant to be: say so if it holds a directive, never drop it.
			if src, rerr := os.ReadFile(path); rerr == nil && bytes.Contains(src, []byte("//mp:")) {
				p.errs = append(p.errs, asError(err, path))
			}
			continue
		}
		if f.pkg != p.pkg.Name {
			continue
		}
		f.fset = fset
		r.files[path] = f
		declaredNames([]*ast.File{f.ast}, p.declared)
		switch {
		case hasDirective(f.ast):
			withDirectives = append(withDirectives, f)
		case exportsNames(f.ast):
			withDecls = append(withDecls, f)
		}
	}
	return withDirectives, withDecls
}

// otherBuilds checks, for every package, the files in p.left, each in a
// build that compiles it; the packages that need the same build are loaded
// together. The error is non-nil only when the go command itself failed.
func (r *run) otherBuilds(ctx context.Context, runs []*pkgRun) error {
	type member struct {
		p     *pkgRun
		files []*srcFile
	}
	type group struct {
		cfg     config
		members []*member
	}
	groups := map[string]*group{}
	for _, p := range runs {
		if len(p.left) == 0 {
			continue
		}
		base, err := r.baseConfig(ctx)
		if err != nil {
			return err
		}
		for _, f := range p.left {
			cfg, ok, err := solve(f.expr(), base, r.host)
			if err != nil {
				p.errs = append(p.errs, errorf(f.fset.Position(f.ast.Package), "%v: mpgen cannot tell which build compiles this file; simplify its //go:build line", err))
				continue
			}
			if !ok {
				continue // no build compiles it: its targets are never linked
			}
			p.errs = append(p.errs, lateInits(f.fset, []*ast.File{f.ast}, r.opts.Output)...)
			g := groups[cfg.String()]
			if g == nil {
				g = &group{cfg: cfg}
				groups[cfg.String()] = g
			}
			if len(g.members) == 0 || g.members[len(g.members)-1].p != p {
				g.members = append(g.members, &member{p: p})
			}
			m := g.members[len(g.members)-1]
			m.files = append(m.files, f)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		g := groups[key]
		var query []string
		for _, m := range g.members {
			query = append(query, "pattern="+m.p.pkg.PkgPath)
		}
		r.opts.Logf("loading %s as built with %s", strings.Join(query, " "), g.cfg)
		env := r.env
		if env == nil {
			env = os.Environ()
		}
		pkgs, err := packages.Load(&packages.Config{
			Context:    ctx,
			Mode:       loadMode,
			Dir:        r.dir,
			Env:        g.cfg.env(env),
			BuildFlags: buildFlags(g.cfg.tags),
			Overlay:    r.overlay,
		}, query...)
		if err != nil {
			return fmt.Errorf("loading packages as built with %s: %w", g.cfg, err)
		}
		byPath := map[string]*packages.Package{}
		for _, pkg := range pkgs {
			byPath[pkg.PkgPath] = pkg
		}
		for _, m := range g.members {
			r.checkOther(m.p, byPath[m.p.pkg.PkgPath], g.cfg, m.files)
		}
	}
	return nil
}

// checkOther finds and checks, in pkg, the package of p as built with cfg,
// the targets and errors of files.
func (r *run) checkOther(p *pkgRun, pkg *packages.Package, cfg config, files []*srcFile) {
	var names []string
	keep := map[string]bool{}
	for _, f := range files {
		names = append(names, filepath.Base(f.path))
		keep[f.path] = true
	}
	where := fmt.Sprintf("as built with %s, which compiles %s", cfg, strings.Join(names, ", "))
	at := files[0].fset.Position(files[0].ast.Package)
	if pkg == nil {
		p.errs = append(p.errs, errorf(at, "the go command did not load package %s %s", p.pkg.PkgPath, where))
		return
	}
	if errs := loadErrors(pkg, r.dir, r.seen); len(errs) > 0 {
		f := files[0]
		lead := errorf(at, "%s is compiled only in builds where %s holds, and the current build (%s) is not one; mpgen loaded package %s as built with %s to check the file's targets and errors, and the package does not load so",
			filepath.Base(f.path), f.expr(), r.base, p.pkg.PkgPath, cfg)
		if f.cgo && cfg.cgo && !r.base.cgo {
			lead.Msg += `; a file that imports "C" needs a C compiler: install one or set CC, and CGO_ENABLED=1`
		}
		p.errs = append(p.errs, lead)
		for _, err := range errs {
			if e, ok := err.(*Error); ok {
				e.Msg += " (" + where + ")"
			}
			p.errs = append(p.errs, err)
		}
		return
	}
	for _, f := range files {
		if !slices.Contains(pkg.GoFiles, f.path) {
			p.errs = append(p.errs, errorf(f.fset.Position(f.ast.Package), "the go command leaves this file out of package %s as built with %s too, so mpgen cannot check it; please report it", p.pkg.PkgPath, cfg))
			return
		}
	}
	found, errs := find(pkg)
	for _, err := range errs {
		if e, ok := err.(*Error); !ok || keep[e.Pos.Filename] {
			p.errs = append(p.errs, err)
		}
	}
	found = slices.DeleteFunc(found, func(t target) bool { return !keep[t.Pos.Filename] })
	p.found = append(p.found, found...)
	targets, errs := check(pkg, found)
	p.errs = append(p.errs, errs...)
	p.targets = append(p.targets, targets...)
	for _, t := range targets {
		p.checkedBy[t.Pos.Filename] = pkg.Types
	}
	if p.hasTargets {
		vals := errorValues(pkg, newTraveler(pkg.Types), func(file string) bool { return keep[file] })
		for _, v := range vals {
			p.checkedBy[v.file] = pkg.Types
		}
		p.errVals = append(p.errVals, vals...)
	}
}

// baseConfig returns the current build: the go command's GOOS, GOARCH and
// CGO_ENABLED in the run's directory and environment, and the run's tags.
func (r *run) baseConfig(ctx context.Context) (config, error) {
	if r.base != nil {
		return *r.base, nil
	}
	cmd := exec.CommandContext(ctx, "go", "env", "-json", "GOOS", "GOARCH", "CGO_ENABLED", "GOHOSTOS", "GOHOSTARCH")
	cmd.Dir, cmd.Env = r.dir, r.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return config{}, fmt.Errorf("go env: %v\n%s", err, stderr.Bytes())
	}
	var v struct{ GOOS, GOARCH, CGO_ENABLED, GOHOSTOS, GOHOSTARCH string }
	if err := json.Unmarshal(out, &v); err != nil {
		return config{}, fmt.Errorf("go env: %v", err)
	}
	c := config{goos: v.GOOS, goarch: v.GOARCH, cgo: v.CGO_ENABLED == "1", tags: slices.Sorted(slices.Values(r.opts.Tags))}
	r.base, r.host = &c, v.GOHOSTOS+"/"+v.GOHOSTARCH
	return c, nil
}

// srcFile returns what constrains the source file at path.
func (r *run) srcFile(path string) (*srcFile, error) {
	if f, ok := r.files[path]; ok {
		return f, nil
	}
	fset := token.NewFileSet()
	f, err := readSrcFile(fset, path, false)
	if err != nil {
		return nil, asError(err, path)
	}
	r.files[path] = f
	return f, nil
}

// constrainedOutput is the name of the generated file that registers the
// targets and errors of the constrained source file src: the output's name,
// a dash and src's name, as zz_mpgen-work_linux.go. It sorts before the
// output, so that its init function registers before the guard runs, and
// ends as src's name does, so it says the same about GOOS and GOARCH (its
// //go:build line says it all anyway).
func constrainedOutput(output, src string) string {
	return strings.TrimSuffix(output, ".go") + "-" + filepath.Base(src)
}

// oldConstrainedOutputs returns the files in dir that mpgen wrote as
// constrained outputs (a first guess by name, then the header).
func (r *run) oldConstrainedOutputs(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	prefix := strings.TrimSuffix(r.opts.Output, ".go") + "-"
	var paths []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ours, _ := isOurFile(filepath.Join(dir, name)); ours {
			paths = append(paths, filepath.Join(dir, name))
		}
	}
	return paths
}

// declaredNames adds the package-level names that files declare to names.
func declaredNames(files []*ast.File, names map[string]bool) {
	for _, file := range files {
		for _, decl := range file.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						names[s.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
}

// hasDirective reports whether file holds a line that reads as an mpgen
// directive, well-formed or not.
func hasDirective(file *ast.File) bool {
	for _, group := range file.Comments {
		for _, c := range group.List {
			if _, _, ok := parseDirective(c.Text); ok {
				return true
			}
		}
	}
	return false
}

// exportsNames reports whether file declares an exported package-level
// variable or type.
func exportsNames(file *ast.File) bool {
	for _, decl := range file.Decls {
		if d, ok := decl.(*ast.GenDecl); ok && (d.Tok == token.VAR || d.Tok == token.TYPE) {
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() {
						return true
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

// needsGuard reports whether package main p needs the main guard: whether
// the program links the runtime, which starts children by running the
// program again. It does when p has targets, or when p, without its
// generated files, imports a package of the runtime, directly or through
// other packages, or a package with targets (whose generated file will).
// A program that never uses mpgen needs no guard and gets no file. The
// files of p that the current build leaves out count when they import the
// runtime themselves.
func (r *run) needsGuard(p *pkgRun) bool {
	if p.pkg.Name != "main" {
		return false
	}
	if p.hasTargets {
		return true
	}
	for _, f := range r.leftOutImports(p) {
		if isRuntime(f) {
			return true
		}
	}
	links := false
	var roots []*packages.Package
	for path := range p.pkg.Imports { // as loaded, without mpgen's files
		if isRuntime(path) {
			return true
		}
		if d := r.listed[p.pkg.Imports[path].ID]; d != nil {
			roots = append(roots, d)
		}
	}
	packages.Visit(roots, func(d *packages.Package) bool { return !links }, func(d *packages.Package) {
		if isRuntime(d.PkgPath) || d.Module != nil && len(r.linkedTargets(d)) > 0 {
			links = true
		}
	})
	return links
}

// isRuntime reports whether path is the runtime or one of its packages.
func isRuntime(path string) bool {
	return path == runtimePath || strings.HasPrefix(path, runtimePath+"/")
}

// leftOutImports returns the import paths of p's files that the current
// build leaves out (those of its package, read by leftOut).
func (r *run) leftOutImports(p *pkgRun) []string {
	var paths []string
	for _, path := range p.pkg.IgnoredFiles {
		if f := r.files[path]; f != nil && f.ast != nil {
			for _, imp := range f.ast.Imports {
				paths = append(paths, strings.Trim(imp.Path.Value, `"`))
			}
		}
	}
	return paths
}

package gen

import (
	"bytes"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

// A nameTable holds the target names of a run, to report duplicates: the
// runtime could not tell two targets of one name apart. Names of different
// main packages do not clash, as no program links two of them; nor do
// those of files that no build compiles together (work_linux.go and
// work_windows.go).
type nameTable struct {
	uses map[string][]nameUse
	dups map[*packages.Package][]error
}

type nameUse struct {
	pkg    *packages.Package
	target target
	cond   constraint.Expr // when its file is compiled; nil for always
}

// add records the targets found in p, noting each whose name an earlier
// target that can be in the same program took.
func (nt *nameTable) add(r *run, p *pkgRun) {
	if nt.uses == nil {
		nt.uses = map[string][]nameUse{}
		nt.dups = map[*packages.Package][]error{}
	}
	pkg := p.pkg
	for _, t := range p.found {
		use := nameUse{pkg: pkg, target: t}
		if f, err := r.srcFile(t.Pos.Filename); err == nil {
			use.cond = f.expr()
		}
		for _, prev := range nt.uses[t.Name] {
			if (prev.pkg == pkg || prev.pkg.Name != "main" || pkg.Name != "main") && together(prev.cond, use.cond) {
				other := prev.target.Ident
				if prev.pkg != pkg {
					other = prev.pkg.PkgPath + "." + other
				}
				nt.dups[pkg] = append(nt.dups[pkg], errorf(t.Pos,
					"mp:target %s: the name %q is taken by %s at %s; give one of them another name with //mp:target NAME",
					t.Ident, t.Name, other, posString(prev.target.Pos)))
				break
			}
		}
		nt.uses[t.Name] = append(nt.uses[t.Name], use)
	}
}

// together reports whether a build can compile files with the conditions
// x and y (nil for always). When it cannot tell, it says they can.
func together(x, y constraint.Expr) bool {
	if x == nil || y == nil {
		return true
	}
	_, ok, err := solve(and(x, y), config{goos: "linux", goarch: "amd64"}, "")
	return ok || err != nil
}

// duplicates returns an error for each target of pkg whose name an earlier
// target took.
func (nt *nameTable) duplicates(pkg *packages.Package) []error {
	return nt.dups[pkg]
}

// A linkedTarget is a target of a package that another one links, as its
// source says: read without types, from the files of the current build.
type linkedTarget struct {
	pkg   string // import path
	ident string
	name  string
	pos   token.Position
}

// linkedDuplicates returns an error for each target name that two packages
// linked into one program with p register: p and one of the packages it
// imports, directly or not, or two of those. A program that links both
// would panic at init, so generating p fails, even when go generate runs
// mpgen one package at a time and the two packages are never generated
// together. Pairs of packages that are both in the run are the nameTable's.
func (r *run) linkedDuplicates(p *pkgRun, roots map[string]bool) []error {
	root := r.listed[p.pkg.ID]
	if root == nil {
		return nil
	}
	type use struct {
		t     linkedTarget
		inRun bool
		own   bool // p's
	}
	uses := map[string]use{}
	for _, t := range p.found {
		if _, ok := uses[t.Name]; !ok {
			uses[t.Name] = use{linkedTarget{pkg: p.pkg.PkgPath, ident: t.Ident, name: t.Name, pos: t.Pos}, true, true}
		}
	}
	var deps []*packages.Package
	packages.Visit([]*packages.Package{root}, nil, func(d *packages.Package) {
		if d != root && d.Module != nil && !strings.HasPrefix(d.PkgPath+"/", runtimePath+"/") {
			deps = append(deps, d)
		}
	})
	slices.SortFunc(deps, func(a, b *packages.Package) int { return strings.Compare(a.ID, b.ID) })
	var errs []error
	for _, d := range deps {
		for _, t := range r.linkedTargets(d) {
			prev, ok := uses[t.name]
			switch {
			case !ok:
				uses[t.name] = use{t: t, inRun: roots[d.ID]}
			case prev.inRun && roots[d.ID]:
			case prev.own:
				errs = append(errs, errorf(prev.t.pos,
					"mp:target %s: the name %q is taken by %s.%s at %s, which package %s imports; give one of them another name with //mp:target NAME",
					prev.t.ident, t.name, t.pkg, t.ident, posString(t.pos), p.pkg.PkgPath))
			default:
				errs = append(errs, errorf(t.pos,
					"mp:target %s: the name %q is taken by %s.%s at %s, and package %s imports both; give one of them another name with //mp:target NAME",
					t.ident, t.name, prev.t.pkg, prev.t.ident, posString(prev.t.pos), p.pkg.PkgPath))
			}
		}
	}
	return errs
}

// linkedTargets returns the targets of d, read from its files.
func (r *run) linkedTargets(d *packages.Package) []linkedTarget {
	if ts, ok := r.linked[d.ID]; ok {
		return ts
	}
	var ts []linkedTarget
	fset := token.NewFileSet()
	for _, path := range d.GoFiles {
		src, err := os.ReadFile(path)
		if err != nil || !bytes.Contains(src, []byte("//mp:target")) || hasHeader(src) {
			continue
		}
		file, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			continue // the package's own generation reports it
		}
		owners := docOwners(file)
		for _, group := range file.Comments {
			for _, c := range group.List {
				name, problem, ok := parseDirective(c.Text)
				if !ok || problem != "" {
					continue
				}
				var id *ast.Ident
				switch n := owners[c].(type) {
				case *ast.FuncDecl:
					if n.Recv == nil {
						id = n.Name
					}
				case *ast.TypeSpec:
					if !n.Assign.IsValid() {
						id = n.Name
					}
				}
				if id == nil {
					continue
				}
				if name == "" {
					name = realPath(d) + "." + id.Name
				}
				ts = append(ts, linkedTarget{pkg: d.PkgPath, ident: id.Name, name: name, pos: fset.Position(id.Pos())})
			}
		}
	}
	r.linked[d.ID] = ts
	return ts
}

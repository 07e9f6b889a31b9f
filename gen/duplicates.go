package gen

import (
	"go/build/constraint"

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
				nt.dups[pkg] = append(nt.dups[pkg], errorf(t.Pos,
					"mp:target %s: the name %q is taken by %s at %s; give one of them another name with //mp:target NAME",
					t.Ident, t.Name, prev.target.Ident, posString(prev.target.Pos)))
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

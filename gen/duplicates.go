package gen

import (
	"golang.org/x/tools/go/packages"
)

// A nameTable holds the target names of a run, to report duplicates: the
// runtime could not tell two targets of one name apart. Names of different
// main packages do not clash, as no program links two of them.
type nameTable struct {
	uses map[string][]nameUse
	dups map[*packages.Package][]error
}

type nameUse struct {
	pkg    *packages.Package
	target target
}

// add records the targets found in pkg, noting each whose name an earlier
// target that can be in the same program took.
func (nt *nameTable) add(pkg *packages.Package, targets []target) {
	if nt.uses == nil {
		nt.uses = map[string][]nameUse{}
		nt.dups = map[*packages.Package][]error{}
	}
	for _, t := range targets {
		for _, prev := range nt.uses[t.Name] {
			if prev.pkg == pkg || prev.pkg.Name != "main" || pkg.Name != "main" {
				nt.dups[pkg] = append(nt.dups[pkg], errorf(t.Pos,
					"mp:target %s: the name %q is taken by %s at %s; give one of them another name with //mp:target NAME",
					t.Ident, t.Name, prev.target.Ident, posString(prev.target.Pos)))
				break
			}
		}
		nt.uses[t.Name] = append(nt.uses[t.Name], nameUse{pkg, t})
	}
}

// duplicates returns an error for each target of pkg whose name an earlier
// target took.
func (nt *nameTable) duplicates(pkg *packages.Package) []error {
	return nt.dups[pkg]
}

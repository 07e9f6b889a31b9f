package gen

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/packages"
)

// find returns the targets that //mp:target lines in pkg's files declare,
// with Name, Pos, Ident and Kind set, and an error for every directive that
// is misspelled, malformed or in the wrong place.
func find(pkg *packages.Package) ([]target, []error) {
	var (
		targets []target
		errs    []error
	)
	for _, file := range pkg.Syntax {
		owners := docOwners(file)
		claimed := map[ast.Node]bool{}
		for _, group := range file.Comments {
			for _, c := range group.List {
				name, problem, ok := parseDirective(c.Text)
				if !ok {
					continue
				}
				pos := pkg.Fset.Position(c.Slash)
				if problem != "" {
					errs = append(errs, errorf(pos, "%s", problem))
					continue
				}
				owner := owners[c]
				if owner == nil {
					errs = append(errs, errorf(pos, "//mp:target must be in the doc comment of a top-level func or type: move it to the line right above the declaration"))
					continue
				}
				if claimed[owner] {
					errs = append(errs, errorf(pos, "a second //mp:target on the same declaration; keep one"))
					continue
				}
				claimed[owner] = true
				t, err := annotated(pkg, owner, pos)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				t.Name = name
				if name == "" {
					t.Name = namePrefix(pkg) + "." + t.Ident
				}
				targets = append(targets, t)
			}
		}
	}
	slices.SortStableFunc(targets, func(a, b target) int {
		return cmp.Or(strings.Compare(a.Pos.Filename, b.Pos.Filename), cmp.Compare(a.Pos.Offset, b.Pos.Offset))
	})
	return targets, errs
}

// docOwners maps each comment of a top-level declaration's doc comment to
// the declaration: a *ast.FuncDecl, a *ast.TypeSpec, or a *ast.GenDecl that
// declares no single type.
func docOwners(file *ast.File) map[*ast.Comment]ast.Node {
	owners := map[*ast.Comment]ast.Node{}
	own := func(doc *ast.CommentGroup, n ast.Node) {
		if doc != nil {
			for _, c := range doc.List {
				owners[c] = n
			}
		}
	}
	for _, decl := range file.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			own(d.Doc, d)
		case *ast.GenDecl:
			if d.Tok == token.TYPE && len(d.Specs) == 1 {
				own(d.Doc, d.Specs[0])
			} else {
				own(d.Doc, d)
			}
			for _, spec := range d.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					own(s.Doc, s)
				case *ast.ValueSpec:
					own(s.Doc, d)
				}
			}
		}
	}
	return owners
}

// annotated returns the target that a valid //mp:target at pos declares on
// the declaration n, or an error saying why n cannot be a target.
func annotated(pkg *packages.Package, n ast.Node, pos token.Position) (target, error) {
	switch d := n.(type) {
	case *ast.FuncDecl:
		name := d.Name.Name
		switch {
		case d.Recv != nil:
			return target{}, errorf(pos, "//mp:target is on method %s, and methods cannot be targets: annotate a top-level function, or the receiver type with its body in a method named Run", name)
		case name == "init", name == "main" && pkg.Name == "main":
			return target{}, errorf(pos, "func %s cannot be a target: move its body to another function and annotate that", name)
		}
		return target{Ident: name, Kind: funcKind, Pos: pkg.Fset.Position(d.Name.Pos())}, nil
	case *ast.TypeSpec:
		if d.Assign.IsValid() {
			return target{}, errorf(pos, "//mp:target is on the alias %s: annotate the type it stands for", d.Name.Name)
		}
		return target{Ident: d.Name.Name, Kind: typeKind, Pos: pkg.Fset.Position(d.Name.Pos())}, nil
	case *ast.GenDecl:
		if d.Tok == token.TYPE {
			return target{}, errorf(pos, "//mp:target is on a group of types: put it on the doc comment of one type inside the group")
		}
		return target{}, errorf(pos, "//mp:target is on a %s declaration; only top-level funcs and types can be targets", d.Tok)
	}
	return target{}, errorf(pos, "//mp:target is on a %T; only top-level funcs and types can be targets", n)
}

// namePrefix is what a target's default name starts with: the package path,
// or "main" in package main, as there is one main package per program.
func namePrefix(pkg *packages.Package) string {
	if pkg.Name == "main" {
		return "main"
	}
	return realPath(pkg)
}

// realPath is the import path of pkg as the directory it really is names
// it: when mpgen runs in a directory reached through a symbolic link below
// the module (link -> real), the go command names the package after the
// link (example.com/m/link), and the registered names would flip with the
// directory mpgen runs in. Outside a module, or when the real directory is
// not below the module's, it is the go command's path.
func realPath(pkg *packages.Package) string {
	if pkg.Module == nil || pkg.Module.Dir == "" || pkg.Dir == "" {
		return pkg.PkgPath
	}
	mod, err1 := filepath.EvalSymlinks(pkg.Module.Dir)
	dir, err2 := filepath.EvalSymlinks(pkg.Dir)
	if err1 != nil || err2 != nil {
		return pkg.PkgPath
	}
	rel, err := filepath.Rel(mod, dir)
	switch {
	case err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)):
		return pkg.PkgPath
	case rel == ".":
		return pkg.Module.Path
	}
	return pkg.Module.Path + "/" + filepath.ToSlash(rel)
}

// findInTests reports every directive in the _test.go files of dir. Targets
// in test files are not supported, as the program that runs them (the test
// binary) is not the one mpgen generates for. Files that do not parse are
// left for go test to report.
func findInTests(dir string) ([]error, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading test files: %w", err)
	}
	var errs []error
	fset := token.NewFileSet()
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		name := filepath.Join(dir, e.Name())
		file, err := parser.ParseFile(fset, name, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		for _, group := range file.Comments {
			for _, c := range group.List {
				_, problem, ok := parseDirective(c.Text)
				if !ok {
					continue
				}
				if problem == "" {
					problem = "//mp:target in a _test.go file is not supported: move the target to a non-test file"
				}
				errs = append(errs, errorf(fset.Position(c.Slash), "%s", problem))
			}
		}
	}
	return errs, nil
}

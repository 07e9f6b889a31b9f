package gen

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/build/constraint"
	"go/parser"
	"go/scanner"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A srcFile is what restricts the builds that compile a source file: its
// //go:build line, the GOOS and GOARCH of its name (x_linux.go), and an
// import of "C", which needs cgo. The targets and errors that a constrained
// file declares are registered by a generated file of their own, which
// carries the same restrictions, so that the generated code builds exactly
// where its targets do (see constrainedOutput).
type srcFile struct {
	path  string
	build constraint.Expr // the //go:build line (or the // +build lines), or nil
	name  constraint.Expr // what the file's name says, or nil
	cgo   bool            // imports "C"
	pkg   string          // the package clause's name
	ast   *ast.File       // parsed with comments, when read in full
	fset  *token.FileSet  // of ast
}

// constrained reports whether some build of the package leaves the file out.
func (f *srcFile) constrained() bool {
	return f.build != nil || f.name != nil || f.cgo
}

// expr is the whole condition under which the file is compiled, or nil for
// always.
func (f *srcFile) expr() constraint.Expr {
	return and(and(f.build, f.name), f.cgoExpr())
}

// buildLine is the //go:build line of the generated file that registers
// the file's targets: the file's own line, what its name says and, if it
// imports "C", cgo. (The generated file's name says what the file's does,
// but the line says it all, for the reader too.)
func (f *srcFile) buildLine() string {
	e := and(f.build, f.name)
	if f.cgo && !requires(e, "cgo") {
		e = and(e, f.cgoExpr())
	}
	if e == nil {
		return ""
	}
	return "//go:build " + e.String()
}

func (f *srcFile) cgoExpr() constraint.Expr {
	if f.cgo {
		return &constraint.TagExpr{Tag: "cgo"}
	}
	return nil
}

// and is x && y, where nil stands for true.
func and(x, y constraint.Expr) constraint.Expr {
	switch {
	case x == nil:
		return y
	case y == nil:
		return x
	}
	return &constraint.AndExpr{X: x, Y: y}
}

// requires reports whether tag is one of the top-level terms of the
// conjunction e.
func requires(e constraint.Expr, tag string) bool {
	switch e := e.(type) {
	case *constraint.TagExpr:
		return e.Tag == tag
	case *constraint.AndExpr:
		return requires(e.X, tag) || requires(e.Y, tag)
	}
	return false
}

// asError returns err, from parsing the file at path, as an *Error.
func asError(err error, path string) error {
	var list scanner.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return &Error{Pos: list[0].Pos, Msg: list[0].Msg}
	}
	return &Error{Pos: token.Position{Filename: path}, Msg: err.Error()}
}

// readSrcFile parses the file at path far enough to know what constrains
// it, and keeps the syntax when full is set (for its directives and
// declarations).
func readSrcFile(fset *token.FileSet, path string, full bool) (*srcFile, error) {
	mode := parser.ParseComments | parser.SkipObjectResolution
	if !full {
		mode |= parser.ImportsOnly
	}
	file, err := parser.ParseFile(fset, path, nil, mode)
	if err != nil {
		return nil, err
	}
	f := &srcFile{path: path, name: nameConstraint(filepath.Base(path)), pkg: file.Name.Name, fset: fset}
	if full {
		f.ast = file
	}
	var plus []constraint.Expr
	for _, group := range file.Comments {
		if group.Pos() >= file.Package {
			break
		}
		for _, c := range group.List {
			switch {
			case constraint.IsGoBuild(c.Text):
				e, err := constraint.Parse(c.Text)
				if err != nil {
					return nil, fmt.Errorf("%s: %v", fset.Position(c.Pos()), err)
				}
				f.build = e
			case constraint.IsPlusBuild(c.Text):
				if e, err := constraint.Parse(c.Text); err == nil {
					plus = append(plus, e)
				}
			}
		}
	}
	if f.build == nil {
		for _, e := range plus { // each // +build line must hold
			f.build = and(f.build, e)
		}
	}
	for _, imp := range file.Imports {
		if imp.Path.Value == `"C"` {
			f.cgo = true
		}
	}
	return f, nil
}

// nameConstraint is what a file name says about GOOS and GOARCH, as the go
// command reads it (name_GOOS.go, name_GOARCH.go, name_GOOS_GOARCH.go), or
// nil when it says nothing.
func nameConstraint(name string) constraint.Expr {
	name, _, _ = strings.Cut(name, ".")
	i := strings.Index(name, "_")
	if i < 0 {
		return nil
	}
	l := strings.Split(name[i:], "_")
	if n := len(l); n > 0 && l[n-1] == "test" {
		l = l[:n-1]
	}
	n := len(l)
	switch {
	case n >= 2 && knownOS[l[n-2]] && knownArch[l[n-1]]:
		return &constraint.AndExpr{X: &constraint.TagExpr{Tag: l[n-2]}, Y: &constraint.TagExpr{Tag: l[n-1]}}
	case n >= 1 && (knownOS[l[n-1]] || knownArch[l[n-1]]):
		return &constraint.TagExpr{Tag: l[n-1]}
	}
	return nil
}

// The operating systems and architectures that the go command knows in
// build constraints (go/build's lists), and those that are Unix.
var (
	knownOS   = wordSet("aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos")
	unixOS    = wordSet("aix android darwin dragonfly freebsd hurd illumos ios linux netbsd openbsd solaris")
	knownArch = wordSet("386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm")
)

// ports are the GOOS/GOARCH pairs the go command builds for (go tool dist
// list), in the order a configuration is looked for: the common ones first.
var ports = strings.Fields(`linux/amd64 linux/arm64 darwin/arm64 darwin/amd64 windows/amd64 windows/arm64 freebsd/amd64
	linux/386 linux/arm linux/loong64 linux/mips linux/mips64 linux/mips64le linux/mipsle linux/ppc64 linux/ppc64le linux/riscv64 linux/s390x
	aix/ppc64 android/386 android/amd64 android/arm android/arm64 dragonfly/amd64 freebsd/386 freebsd/arm freebsd/arm64
	illumos/amd64 ios/amd64 ios/arm64 js/wasm netbsd/386 netbsd/amd64 netbsd/arm netbsd/arm64
	openbsd/386 openbsd/amd64 openbsd/arm openbsd/arm64 openbsd/ppc64 openbsd/riscv64
	plan9/386 plan9/amd64 plan9/arm solaris/amd64 wasip1/wasm windows/386`)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// A config is one build configuration: what the go command is run with to
// load a package as a build for it would compile it.
type config struct {
	goos, goarch string
	cgo          bool
	tags         []string // build tags, sorted: the user's and those a file asks for
}

// String describes c as the go command's settings.
func (c config) String() string {
	s := "GOOS=" + c.goos + " GOARCH=" + c.goarch + " CGO_ENABLED=" + map[bool]string{false: "0", true: "1"}[c.cgo]
	if len(c.tags) > 0 {
		s += " -tags=" + strings.Join(c.tags, ",")
	}
	return s
}

// env returns base with c's settings.
func (c config) env(base []string) []string {
	return append(slices.Clip(base), "GOOS="+c.goos, "GOARCH="+c.goarch, "CGO_ENABLED="+map[bool]string{false: "0", true: "1"}[c.cgo])
}

// has reports whether a build for c satisfies tag, as the go command
// decides (go/build's matchTag).
func (c config) has(tag string) bool {
	switch {
	case tag == c.goos, tag == c.goarch:
		return true
	case tag == "linux" && c.goos == "android", tag == "darwin" && c.goos == "ios", tag == "solaris" && c.goos == "illumos":
		return true
	case tag == "unix":
		return unixOS[c.goos]
	case tag == "cgo":
		return c.cgo
	}
	return slices.Contains(c.tags, tag) || fixedTag(tag) == yes
}

// A tagValue says whether a build tag holds whatever the configuration.
type tagValue int

const (
	free tagValue = iota // a user's tag: set or not by -tags
	yes
	no
)

// fixedTag says whether tag is fixed by the toolchain rather than set
// freely: the release tags (go1.21), the compiler (gc), the toolchain's
// experiments, and "ignore", which by convention keeps a file out of every
// build. GOOS, GOARCH, unix and cgo are the config's.
func fixedTag(tag string) tagValue {
	switch {
	case tag == "gc":
		return yes
	case tag == "gccgo", tag == "ignore":
		return no
	case slices.Contains(build.Default.ReleaseTags, tag), slices.Contains(build.Default.ToolTags, tag):
		return yes
	case isReleaseTag(tag), strings.Contains(tag, "."):
		return no // a later release, or an experiment or feature level not on
	}
	return free
}

func isReleaseTag(tag string) bool {
	major, minor, ok := strings.Cut(strings.TrimPrefix(tag, "go"), ".")
	_, err1 := strconv.Atoi(major)
	_, err2 := strconv.Atoi(minor)
	return strings.HasPrefix(tag, "go") && ok && err1 == nil && err2 == nil
}

// maxFreeTags bounds the search for a configuration: a condition with more
// user tags than this is reported rather than searched.
const maxFreeTags = 12

// solve returns a configuration in which e holds, looking first at those
// closest to base, with base's tags with as few changed as can be; host is
// the machine's GOOS/GOARCH, where cgo is most likely to work. It reports
// false when no configuration satisfies e; an error means the condition has
// too many tags to search.
func solve(e constraint.Expr, base config, host string) (config, bool, error) {
	var frees []string // the tags of e that a build may set or not
	collectTags(e, func(tag string) {
		if knownOS[tag] || knownArch[tag] || tag == "unix" || tag == "cgo" || fixedTag(tag) != free {
			return
		}
		if !slices.Contains(frees, tag) {
			frees = append(frees, tag)
		}
	})
	if len(frees) > maxFreeTags {
		return config{}, false, fmt.Errorf("the condition %s has %d build tags, more than mpgen searches (%d)", e, len(frees), maxFreeTags)
	}
	slices.Sort(frees)
	// Which of frees to flip from base, fewest first.
	flips := make([]uint, 1<<len(frees))
	for i := range flips {
		flips[i] = uint(i)
	}
	slices.SortStableFunc(flips, func(a, b uint) int { return popcount(a) - popcount(b) })

	// Closest first: the current build, the host's with or without cgo,
	// the common ports without cgo (cross builds rarely have a C compiler),
	// and last the cross builds with cgo.
	type candidate struct {
		pair string
		cgo  bool
	}
	basePair := base.goos + "/" + base.goarch
	cands := []candidate{{basePair, base.cgo}}
	if host == basePair || host == "" {
		cands = append(cands, candidate{basePair, !base.cgo})
	} else {
		cands = append(cands, candidate{host, true}, candidate{host, false})
	}
	for _, p := range ports {
		cands = append(cands, candidate{p, false})
	}
	cands = append(cands, candidate{basePair, !base.cgo})
	for _, p := range ports {
		cands = append(cands, candidate{p, true})
	}
	for _, cand := range cands {
		goos, goarch, _ := strings.Cut(cand.pair, "/")
		for _, flip := range flips {
			c := config{goos: goos, goarch: goarch, cgo: cand.cgo}
			for _, tag := range base.tags {
				if i := slices.Index(frees, tag); i < 0 || flip&(1<<i) == 0 {
					c.tags = append(c.tags, tag)
				}
			}
			for i, tag := range frees {
				if flip&(1<<i) != 0 && !slices.Contains(base.tags, tag) {
					c.tags = append(c.tags, tag)
				}
			}
			slices.Sort(c.tags)
			if e == nil || e.Eval(c.has) {
				return c, true, nil
			}
		}
	}
	return config{}, false, nil
}

func popcount(x uint) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// collectTags calls f on every tag of e.
func collectTags(e constraint.Expr, f func(string)) {
	switch e := e.(type) {
	case *constraint.TagExpr:
		f(e.Tag)
	case *constraint.NotExpr:
		collectTags(e.X, f)
	case *constraint.AndExpr:
		collectTags(e.X, f)
		collectTags(e.Y, f)
	case *constraint.OrExpr:
		collectTags(e.X, f)
		collectTags(e.Y, f)
	}
}

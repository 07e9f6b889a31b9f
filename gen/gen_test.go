package gen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/types"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const fixtureDir = "../testdata/gen/fixture"

// generate runs Generate on patterns in dir and fails the test on errors
// that concern no package.
func generate(t *testing.T, dir string, opts *Options, patterns ...string) []Result {
	t.Helper()
	results, errs := Generate(context.Background(), dir, nil, patterns, opts)
	if len(errs) > 0 {
		t.Fatalf("Generate(%s, %q): %v", dir, patterns, errs)
	}
	return results
}

// describe renders a target on one line, for comparisons.
func describe(t target) string {
	q := func(p *types.Package) string { return p.Name() }
	var params []string
	for _, p := range t.Params {
		params = append(params, strings.TrimSpace(p.Name+" "+types.TypeString(p.Type, q)))
	}
	s := fmt.Sprintf("%s %s %s at %s:%d (%s)", t.Kind, t.Ident, t.Name, filepath.Base(t.Pos.Filename), t.Pos.Line, strings.Join(params, ", "))
	if t.Context {
		s += " ctx"
	}
	if t.Variadic {
		s += " variadic"
	}
	if t.Result != nil {
		s += " -> " + types.TypeString(t.Result, q)
	}
	if t.Error {
		s += " error"
	}
	return s
}

// TestTargets checks what find and check make of each target, in the order
// the generated file registers them: by name.
func TestTargets(t *testing.T) {
	tests := []struct {
		dir  string
		want []string
	}{{
		dir: "../testdata/gen/funcs",
		want: []string{
			"func logf logs/write-v2 at main.go:40 (format string, args []geo.Unit) ctx variadic error",
			"func answer main.answer at main.go:23 () -> int",
			"func fail main.fail at main.go:20 () error",
			"func handles main.handles at main.go:73 (c *mp.Conn[geo.Point], q *mp.Queue[*mp.Conn[string]]) error",
			"func local main.local at main.go:50 (c main.Config, int, temp main.Celsius, r rune) -> *main.Config",
			"func lookup main.lookup at main.go:28 (key string) -> geo.Point error",
			"func noop main.noop at main.go:17 ()",
			"func shapes main.shapes at main.go:43 (p *geo.Point, boxes map[string]geo.Box[geo.Point], grid [3][]complex128, raw []byte, l oddname.Label, opt struct{N int \"json:\\\"n\\\"\"}) -> map[geo.Unit]bool error",
			"func tick main.tick at main.go:31 () ctx error",
			"func unnamed main.unnamed at main.go:67 (string, int)",
			"func wait main.wait at main.go:34 (d time.Duration, at time.Time) ctx",
			"func sum sum at main.go:37 (xs []int) variadic -> int",
		},
	}, {
		dir: "../testdata/gen/types",
		want: []string{
			"type Counter counter at main.go:22 (main.Counter) -> int",
			"type Fetch main.Fetch at main.go:30 (main.Fetch) ctx -> []byte error",
			"type Greeter main.Greeter at main.go:15 (main.Greeter) ctx error",
			"type Loud main.Loud at main.go:47 (main.Loud) ctx error",
			"type Span main.Span at main.go:57 (main.Span) -> time.Duration error",
			"type Ticks main.Ticks at main.go:40 (main.Ticks)",
		},
	}, {
		dir: "../testdata/gen/lib",
		want: []string{
			"func Resize github.com/mpgen/mpgen/testdata/gen/lib.Resize at lib.go:13 (path string, width int) ctx error",
			"func stat lib.stat at lib.go:16 (name string) -> fs.FileMode error",
		},
	}}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.dir), func(t *testing.T) {
			t.Parallel()
			results := generate(t, tt.dir, nil, ".")
			if len(results) != 1 || len(results[0].Errs) > 0 {
				t.Fatalf("want one result without errors, got %+v", results)
			}
			var got []string
			for _, target := range results[0].targets {
				got = append(got, describe(target))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("targets:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tt.want, "\n      "))
			}
		})
	}
}

// errorLines returns the errors of each result, keyed by the last element
// of its package path, with absolute paths below dir made relative to it.
func errorLines(t *testing.T, dir string, results []Result) map[string][]string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, r := range results {
		key := r.PkgPath[strings.LastIndex(r.PkgPath, "/")+1:]
		for _, e := range r.Errs {
			got[key] = append(got[key], strings.ReplaceAll(e.Error(), abs+string(filepath.Separator), ""))
		}
	}
	return got
}

func TestDuplicateNames(t *testing.T) {
	dir := filepath.Join(fixtureDir, "dup")
	results := generate(t, dir, nil, "./...")
	got := errorLines(t, dir, results)
	want := map[string][]string{
		"b":    {`b/b.go:5:6: mp:target Work: the name "shared" is taken by github.com/mpgen/mpgen/testdata/gen/fixture/dup/a.Work at a/a.go:5:6; give one of them another name with //mp:target NAME`},
		"cmd2": {`cmd2/main.go:11:6: mp:target other: the name "shared" is taken by github.com/mpgen/mpgen/testdata/gen/fixture/dup/a.Work at a/a.go:5:6; give one of them another name with //mp:target NAME`},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("errors:\n got: %q\nwant: %q", got, want)
	}
	for _, r := range results {
		if (len(r.Errs) > 0) != (r.Content == nil) {
			t.Errorf("%s: %d errors and %d bytes of content; want content exactly when there is no error", r.PkgPath, len(r.Errs), len(r.Content))
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := filepath.Join(fixtureDir, "broken")
	got := errorLines(t, dir, generate(t, dir, nil, "."))
	// The type error once (not again in the go command's build output),
	// and the directive errors, which need no types, as well.
	want := map[string][]string{"broken": {
		"broken.go:5:26: undefined: undefinedName",
		"broken.go:7:1: unknown directive //mp:taget; mpgen's only directive is //mp:target",
	}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("errors:\n got: %q\nwant: %q", got, want)
	}
}

// TestTags: a target in a file that a build tag keeps out of the current
// build is registered by a file of its own, with the same //go:build line,
// whether or not the tag is set when mpgen runs; the other file's targets by
// the package's output file. Both runs give the same files.
func TestTags(t *testing.T) {
	dir := filepath.Join(fixtureDir, "tagged")
	var first []Result
	for _, tags := range [][]string{nil, {"other", "mpgenextra"}} {
		results := generate(t, dir, &Options{Tags: tags}, ".")
		got := map[string][]string{}
		for _, r := range results {
			if len(r.Errs) > 0 {
				t.Fatalf("tags %q: %s: %v", tags, r.OutputPath, r.Errs)
			}
			for _, target := range r.targets {
				got[filepath.Base(r.OutputPath)] = append(got[filepath.Base(r.OutputPath)], target.Name)
			}
		}
		want := map[string][]string{DefaultOutput: {"main.always"}, "zz_mpgen-extra.go": {"main.extra"}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("tags %q: targets %q, want %q", tags, got, want)
		}
		for _, r := range results {
			if filepath.Base(r.OutputPath) == "zz_mpgen-extra.go" && !strings.Contains(string(r.Content), "\n\n//go:build mpgenextra\n\npackage main\n") {
				t.Errorf("tags %q: %s lacks extra.go's //go:build line:\n%s", tags, r.OutputPath, r.Content)
			}
		}
		if first == nil {
			first = results
		} else if !sameFiles(first, results) {
			t.Errorf("the files differ with tags %q and without", tags)
		}
	}
}

// sameFiles reports whether a and b are the same files with the same bytes.
func sameFiles(a, b []Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].OutputPath != b[i].OutputPath || !bytes.Equal(a[i].Content, b[i].Content) {
			return false
		}
	}
	return true
}

func TestOutputOption(t *testing.T) {
	dir := "../testdata/gen/bad"
	lateInit := func(results []Result) int {
		n := 0
		for _, e := range results[0].Errs {
			if strings.Contains(e.Error(), "would run after the mpgen guard") {
				n++
			}
		}
		return n
	}
	if n := lateInit(generate(t, dir, nil, ".")); n != 1 {
		t.Errorf("default output: %d late init errors, want 1", n)
	}
	// zzz_late.go sorts before zzzz.go: its init runs before the guard.
	results := generate(t, dir, &Options{Output: "zzzz.go"}, ".")
	if n := lateInit(results); n != 0 {
		t.Errorf("output zzzz.go: %d late init errors, want 0", n)
	}
	if got := filepath.Base(results[0].OutputPath); got != "zzzz.go" {
		t.Errorf("OutputPath %s, want zzzz.go", got)
	}
}

func TestGenerateFails(t *testing.T) {
	for _, tt := range []struct {
		name, dir string
		opts      *Options
		patterns  []string
		want      string
	}{
		{"bad output", ".", &Options{Output: "sub/x.go"}, []string{"."}, `invalid output file name "sub/x.go"`},
		{"test output", ".", &Options{Output: "x_test.go"}, []string{"."}, `invalid output file name "x_test.go"`},
		{"constrained output", ".", &Options{Output: "gen_linux.go"}, []string{"."}, `invalid output file name "gen_linux.go": the name limits the builds that compile the file (to linux)`},
		{"missing dir", "no/such/dir", nil, []string{"."}, "no such file or directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			results, errs := Generate(context.Background(), tt.dir, nil, tt.patterns, tt.opts)
			if results != nil || len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Fatalf("Generate = %v, %v; want no results and one error containing %q", results, errs, tt.want)
			}
			if got, want := errors.Is(errs[0], ErrOptions), tt.opts != nil; got != want {
				t.Errorf("errors.Is(%v, ErrOptions) = %v, want %v", errs[0], got, want)
			}
		})
	}
}

func TestFilePatterns(t *testing.T) {
	results := generate(t, "../testdata/gen/guard", nil, "main.go")
	if len(results) != 1 || len(results[0].Errs) != 1 || !strings.Contains(results[0].Errs[0].Error(), "mpgen works on packages, not on lists of files") {
		t.Fatalf("got %+v, want one result with the files error", results)
	}
}

// TestStaleFiles loads packages whose generated files, or whose imports'
// generated files, are stale: they do not compile, and must not matter.
func TestStaleFiles(t *testing.T) {
	dir := filepath.Join(fixtureDir, "staledep")
	for _, pattern := range []string{"./app", "./lib", "./..."} {
		for _, r := range generate(t, dir, nil, pattern) {
			if len(r.Errs) > 0 || r.Content == nil {
				t.Errorf("pattern %s, package %s: errors %v, %d bytes of content; want content and no error", pattern, r.PkgPath, r.Errs, len(r.Content))
			}
		}
	}
}

package gen

// The generator fed broken and hostile packages, in temporary modules:
// syntax errors, type errors, import cycles, files that are not Go, a huge
// file of targets, and odd annotations (Unicode, a byte order mark, very
// long names, CRLF line endings, directives inside /* */ comments, package
// names that collide with the generated file's imports). Each must be
// answered with positioned errors or with correct output, never a panic,
// and a failing run must never write over a good generated file.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// commitLikeMpgen commits the results without errors, as cmd/mpgen does,
// and fails the test if a commit fails.
func commitLikeMpgen(t *testing.T, results []Result) {
	t.Helper()
	for _, r := range results {
		if len(r.Errs) > 0 {
			if _, err := r.Commit(); err == nil {
				t.Errorf("%s: Commit of a result with errors succeeded", r.PkgPath)
			}
			continue
		}
		if _, err := r.Commit(); err != nil {
			t.Fatalf("%s: Commit: %v", r.PkgPath, err)
		}
	}
}

// errorText returns every error of results as a line, with dir's path
// left out of positions, in result order.
func errorText(dir string, results []Result) []string {
	var lines []string
	for _, r := range results {
		for _, e := range r.Errs {
			lines = append(lines, strings.ReplaceAll(e.Error(), dir+string(filepath.Separator), ""))
		}
	}
	return lines
}

// fileState is a file's content and modification time.
type fileState struct {
	data  []byte
	mtime time.Time
}

// tree returns the state of every file below dir, by slash path.
func tree(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = fileState{data, info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ageGenerated sets the modification time of every generated file below
// dir an hour back, so that a rewrite shows even with the same content.
func ageGenerated(t *testing.T, dir string) {
	t.Helper()
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	for name := range tree(t, dir) {
		if filepath.Base(name) == DefaultOutput {
			if err := os.Chtimes(filepath.Join(dir, name), past, past); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// goodModule is a healthy program: package main and a library, each with
// a target, whose generated files are written before every broken variant
// is tried on top of it.
var goodModule = map[string]string{
	"main.go":    "package main\n\nimport _ \"" + hostileModPath + "/lib\"\n\nfunc main() {}\n\n//mp:target\nfunc work(n int) int { return n }\n",
	"lib/lib.go": "package lib\n\n//mp:target\nfunc Double(n int) int { return 2 * n }\n",
}

// Broken packages: each variant of the good module is answered with
// errors at the right positions, no output, no panic; the good generated
// files already on disk are left exactly as they were (content and
// modification time), and no other file appears.
func TestHostileBrokenPackages(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string // written over the good module ("" removes)
		want  []string          // error lines that must be reported
		count int               // how many errors, when not 0
	}{{
		name:  "syntax error",
		files: map[string]string{"main.go": "package main\n\nfunc main() {}\n\n//mp:target\nfunc work(n int) int { return n\n"},
		want:  []string{"main.go:6:33: expected ';', found 'EOF'"},
		count: 1,
	}, {
		// Only the syntax error: not the type checker's noise about the
		// broken tree ((ast: *ast.BadExpr), declared and not used), nor the
		// parser's further complaints on the same line.
		name:  "syntax error and what follows from it",
		files: map[string]string{"main.go": "package main\n\nfunc main() {\n\tvar x int = [\n}\n\n//mp:target\nfunc work(n int) int { return n }\n"},
		want:  []string{"main.go:5:1: expected operand, found '}'"},
		count: 1,
	}, {
		name:  "no package clause",
		files: map[string]string{"main.go": "func main() {}\n"},
		want:  []string{"main.go:1:1: expected 'package', found 'func'"},
	}, {
		name:  "type error",
		files: map[string]string{"main.go": "package main\n\nfunc main() {}\n\n//mp:target\nfunc work(n int) int { return \"s\" }\n"},
		want:  []string{`main.go:6:31: cannot use "s" (untyped string constant) as int value in return statement`},
	}, {
		name:  "type error in a library",
		files: map[string]string{"lib/lib.go": "package lib\n\n//mp:target\nfunc Double(n int) int { return 2 * m }\n"},
		want:  []string{"lib/lib.go:4:37: undefined: m"},
	}, {
		name: "import cycle",
		files: map[string]string{
			"lib/lib.go":         "package lib\n\nimport _ \"" + hostileModPath + "/lib/inner\"\n\n//mp:target\nfunc Double(n int) int { return 2 * n }\n",
			"lib/inner/inner.go": "package inner\n\nimport _ \"" + hostileModPath + "/lib\"\n",
		},
		want: []string{"lib/lib.go:3:10: could not import " + hostileModPath + "/lib/inner (import cycle"},
	}, {
		name:  "package importing itself",
		files: map[string]string{"lib/lib.go": "package lib\n\nimport _ \"" + hostileModPath + "/lib\"\n\n//mp:target\nfunc Double(n int) int { return 2 * n }\n"},
		want:  []string{"lib/lib.go:3:10: could not import " + hostileModPath + "/lib (import cycle"},
	}, {
		name:  "two packages in one directory",
		files: map[string]string{"other.go": "package other\n"},
		want:  []string{"other.go:1:1: package other; expected package main"},
	}, {
		name:  "not Go at all",
		files: map[string]string{"junk.go": "\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00"},
		want:  []string{"junk.go:1:1: illegal character U+007F"},
	}, {
		name:  "NUL byte",
		files: map[string]string{"main.go": "package main\n\nfunc main() {}\n\n//mp:target\nfunc work(n int) int { return n }\n\nvar x = \"\x00\"\n"},
		want:  []string{"main.go:8:10: illegal character NUL"},
	}, {
		name:  "invalid UTF-8 in a directive",
		files: map[string]string{"main.go": "package main\n\nfunc main() {}\n\n//mp:target \xff\xfe\nfunc work(n int) int { return n }\n"},
		want:  []string{"main.go:5:13: illegal UTF-8 encoding"},
	}, {
		name:  "Unicode target name",
		files: map[string]string{"main.go": "package main\n\nfunc main() {}\n\n//mp:target héllo\nfunc work(n int) int { return n }\n"},
		want:  []string{`main.go:5:1: invalid target name "héllo": a name holds only letters, digits and _ . / -`},
	}, {
		name:  "a comment after the name",
		files: map[string]string{"main.go": "package main\n\nfunc main() {}\n\n//mp:target work /* the worker */\nfunc work(n int) int { return n }\n"},
		want:  []string{`main.go:5:1: //mp:target takes at most one target name, not "work /* the worker */"; write //mp:target NAME`},
	}, {
		name:  "CRLF with a misspelled directive",
		files: map[string]string{"main.go": crlf("package main\n\nfunc main() {}\n\n//mp:target\nfunc work(n int) int { return n }\n\n//mp:taget\nfunc typo() {}\n")},
		want:  []string{"main.go:8:1: unknown directive //mp:taget; mpgen's only directive is //mp:target"},
	}, {
		name:  "a directive on a method, far down a huge file",
		files: map[string]string{"main.go": "package main\n\nfunc main() {}\n\n" + strings.Repeat("// filler\n", 20000) + "type T struct{}\n\n//mp:target\nfunc (T) Work() {}\n"},
		want:  []string{"main.go:20007:1: //mp:target is on method Work, and methods cannot be targets"},
	}, {
		name:  "2000 bad targets",
		files: map[string]string{"main.go": "package main\n\nfunc main() {}\n" + hugeTargets(2000, "chan int")},
		want:  []string{"main.go:6:29: mp:target T0000: parameter c has type chan int", "main.go:6003:29: mp:target T1999: parameter c has type chan int"},
		count: 2000,
	}} {
		if raceEnabled && tc.count > 100 {
			continue // slow under the race detector, and about scale, not races
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := hostileModule(t, goodModule)
			commitLikeMpgen(t, generateNoPanic(t, dir, nil))
			ageGenerated(t, dir)
			good := tree(t, dir)
			for _, name := range []string{DefaultOutput, "lib/" + DefaultOutput} {
				if _, ok := good[name]; !ok {
					t.Fatalf("the good module has no %s", name)
				}
			}

			writeFiles(t, dir, tc.files)
			before := tree(t, dir)
			results := generateNoPanic(t, dir, nil)
			got := errorText(dir, results)
			if len(got) == 0 {
				t.Fatal("no errors reported")
			}
			for _, want := range tc.want {
				if !slices.ContainsFunc(got, func(line string) bool { return strings.HasPrefix(line, want) }) {
					t.Errorf("no error starts with %q; got %d errors:\n%.3000s", want, len(got), strings.Join(got, "\n"))
				}
			}
			if tc.count > 0 && len(got) != tc.count {
				t.Errorf("%d errors, want %d", len(got), tc.count)
			}
			for _, r := range results {
				if len(r.Errs) > 0 && r.Content != nil {
					t.Errorf("%s has errors and %d bytes of content", r.PkgPath, len(r.Content))
				}
				for _, e := range r.Errs {
					if !errors.As(e, new(*Error)) {
						t.Errorf("%s: error %T %v is not an *Error", r.PkgPath, e, e)
					}
				}
			}
			commitLikeMpgen(t, results)

			after := tree(t, dir)
			for name, b := range before {
				a, ok := after[name]
				switch {
				case !ok && filepath.Base(name) == DefaultOutput:
					t.Errorf("the good %s was removed", name)
				case !ok:
					t.Errorf("%s was removed", name)
				case !bytes.Equal(a.data, b.data) || !a.mtime.Equal(b.mtime):
					t.Errorf("%s was rewritten (%d bytes, mtime %v; was %d bytes, %v)", name, len(a.data), a.mtime, len(b.data), b.mtime)
				}
			}
			for name := range after {
				if _, ok := before[name]; !ok {
					t.Errorf("a failing run wrote %s", name)
				}
			}
		})
	}
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// hugeTargets returns n target functions, T%04d(x int, s string, c param)
// string, where param is a type of parameter ("int" for a valid target).
// After a file's first three lines, target i is declared on line 6+3*i.
func hugeTargets(n int, param string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\n//mp:target\nfunc T%04d(x int, s string, c %s) string { return s + \"%d\" }\n", i, param, i)
	}
	return b.String()
}

// Each error is reported once (go/packages hands the same
// import cycle to every package of the cycle, and a parse error both from
// go list and from its own parse), and every error has a position.
func TestHostileErrorsOncePositioned(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"import cycle": {
			"lib/lib.go":         "package lib\n\nimport _ \"" + hostileModPath + "/lib/inner\"\n",
			"lib/inner/inner.go": "package inner\n\nimport _ \"" + hostileModPath + "/lib\"\n",
		},
		"no package clause": {"main.go": "func main() {}\n"},
		"not Go at all":     {"junk.go": "\x7fELF\x02\x01\x01\x00"},
	} {
		t.Run(name, func(t *testing.T) {
			dir := hostileModule(t, goodModule)
			writeFiles(t, dir, files)
			results := generateNoPanic(t, dir, nil)
			// Within a package, each problem once; across packages an
			// import cycle belongs to every member (so none is written),
			// and the command prints each line once.
			for _, r := range results {
				seen := map[string]bool{}
				for _, e := range r.Errs {
					if seen[e.Error()] {
						t.Errorf("%s: reported more than once: %v", r.PkgPath, e)
					}
					seen[e.Error()] = true
				}
			}
			for _, r := range results {
				for _, e := range r.Errs {
					var ge *Error
					if errors.As(e, &ge) && (ge.Pos.Filename == "" || ge.Pos.Line == 0) {
						t.Errorf("%s: error without a position: %v", r.PkgPath, e)
					}
				}
			}
		})
	}
}

// oddModule is a program of odd but valid packages, each a library that
// main imports, and a main that runs a target of each in a child process
// and prints what came back.
func oddModule(hugeN int) map[string]string {
	longName := strings.Repeat("n", 100000)
	longIdent := "L" + strings.Repeat("o", 4999)
	return map[string]string{
		// CRLF line endings throughout, directives included.
		"crlf/crlf.go": crlf("package crlf\n\n// Work is a target.\n//\n//mp:target\nfunc Work(s string) string { return \"crlf:\" + s }\n\n//mp:target crlf-named\nfunc Named() int { return 7 }\n"),
		// A byte order mark, Unicode identifiers, fields and comments.
		"uni/uni.go": "\ufeffpackage uni\n\n// Grüße grüßt. «Ünïcödé» ☃\n//\n//mp:target\nfunc Grüße(名前 string) string { return \"grüße \" + 名前 }\n\n// Ωmega is a type target.\n//\n//mp:target\ntype Ωmega struct{ Δ int }\n\nfunc (o *Ωmega) Run() int { return o.Δ * 2 }\n",
		// Directives in general comments are plain comments: no targets.
		"block/block.go": "package block\n\n/*mp:target*/\nfunc A() {}\n\n/* //mp:target */\nfunc B() {}\n\n/*\n//mp:target\n*/\nfunc C() {}\n\n//mp:target\nfunc D() int { return 4 }\n",
		// A 100000-byte target name, and a 5000-byte identifier.
		"long/long.go": "package long\n\n//mp:target " + longName + "\nfunc Work(n int) int { return n + 1 }\n\n//mp:target\nfunc " + longIdent + "(s string) int { return len(s) }\n",
		// Package-level names that the generated file would like for its
		// imports and locals.
		"clash/clash.go": "package clash\n\nimport \"time\"\n\nvar (\n\tmpruntime = 1\n\tcontext   = 2\n\treflect   = 3\n\ta0        = 4\n\tr         = 5\n)\n\ntype args struct{}\n\n//mp:target\nfunc Work(ctx int, args string, d time.Duration) string { return args + d.String() }\n\nvar _ = []any{mpruntime, context, reflect, a0, r, args{}}\n",
		// One file with many targets.
		"huge/huge.go": "package huge\n\nfunc unused() {}\n" + hugeTargets(hugeN, "int"),
		"main.go": `package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"` + hostileModPath + `/block"
	"` + hostileModPath + `/clash"
	"` + hostileModPath + `/crlf"
	"` + hostileModPath + `/huge"
	"` + hostileModPath + `/long"
	"` + hostileModPath + `/uni"
	mp "github.com/mpgen/mpgen/runtime"
)

func main() {
	failed := false
	run := func(what string, target any, args ...any) {
		p := &mp.Process{Target: target, Args: args}
		if err := p.Start(); err != nil {
			fmt.Printf("%s: start: %v\n", what, err)
			failed = true
			return
		}
		if err := p.Join(); err != nil {
			fmt.Printf("%s: %v\n", what, err)
			failed = true
			return
		}
		res, _ := p.Result()
		fmt.Printf("%s: %v\n", what, res)
	}
	run("crlf", crlf.Work, "x")
	run("crlf-named", crlf.Named)
	run("uni", uni.Grüße, "welt")
	run("uni type", &uni.Ωmega{Δ: 21})
	run("block", block.D)
	run("long name", long.Work, 41)
	run("long ident", long.` + longIdent + `, strings.Repeat("z", 9))
	run("clash", clash.Work, 1, "d=", 1500*time.Millisecond)
	run("huge first", huge.T0000, 1, "s", 2)
	run("huge last", huge.T` + fmt.Sprintf("%04d", hugeN-1) + `, 1, "s", 2)
	if failed {
		os.Exit(1)
	}
}
`,
	}
}

// Odd but valid packages get correct output: the targets they should have
// (none from /* */ comments), a file that parses, and, unless -short, a
// program that builds and runs every kind of odd target in a child.
func TestHostileOddPackages(t *testing.T) {
	hugeN := 2000
	if raceEnabled {
		hugeN = 200 // the generator's own speed is not what -race checks
	}
	dir := hostileModule(t, oddModule(hugeN))
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// The module needs the runtime to build: require it from this
	// repository, and let the go command complete go.sum from the module
	// cache, as cmd/mpgen's end-to-end scripts do.
	writeFiles(t, dir, map[string]string{"go.mod": "module " + hostileModPath + "\n\ngo 1.26\n\nrequire github.com/mpgen/mpgen v0.0.0\n\nreplace github.com/mpgen/mpgen => " + root + "\n"})
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"go.sum": string(sum)})
	env := append(os.Environ(), "GOFLAGS=-mod=mod")

	t0 := time.Now()
	results := generateNoPanic(t, dir, env)
	took := time.Since(t0)
	wantTargets := map[string][]string{
		hostileModPath + "/crlf":  {"crlf-named", hostileModPath + "/crlf.Work"}, // in name order
		hostileModPath + "/uni":   {hostileModPath + "/uni.Grüße", hostileModPath + "/uni.Ωmega"},
		hostileModPath + "/block": {hostileModPath + "/block.D"},
		hostileModPath + "/long":  {hostileModPath + "/long.L" + strings.Repeat("o", 4999), strings.Repeat("n", 100000)},
		hostileModPath + "/clash": {hostileModPath + "/clash.Work"},
		hostileModPath:            nil,
	}
	for _, r := range results {
		if len(r.Errs) > 0 {
			t.Fatalf("%s: %s", r.PkgPath, strings.Join(errorText(dir, []Result{r}), "\n"))
		}
		var names []string
		for _, target := range r.targets {
			names = append(names, target.Name)
		}
		if r.PkgPath == hostileModPath+"/huge" {
			if len(names) != hugeN || names[0] != r.PkgPath+".T0000" || names[hugeN-1] != fmt.Sprintf("%s.T%04d", r.PkgPath, hugeN-1) {
				t.Errorf("huge: %d targets", len(names))
			}
		} else if want, ok := wantTargets[r.PkgPath]; !ok || !slices.Equal(names, want) {
			short := func(s []string) []string {
				var out []string
				for _, n := range s {
					if len(n) > 80 {
						n = n[:80] + fmt.Sprintf("...(%d bytes)", len(n))
					}
					out = append(out, n)
				}
				return out
			}
			t.Errorf("%s: targets %q, want %q", r.PkgPath, short(names), short(want))
		}
		if r.Content == nil {
			t.Fatalf("%s: no content", r.PkgPath)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), r.OutputPath, r.Content, parser.SkipObjectResolution); err != nil {
			t.Errorf("%s: the generated file does not parse: %v", r.PkgPath, err)
		}
		if r.PkgPath == hostileModPath+"/huge" {
			t.Logf("huge: %d targets, a generated file of %d bytes, Generate took %v for the module", len(r.targets), len(r.Content), took.Round(time.Millisecond))
		}
	}
	commitLikeMpgen(t, results)
	for _, r := range results {
		if stale, err := r.Stale(); err != nil || stale {
			t.Errorf("%s: stale after Commit: %v, %v", r.PkgPath, stale, err)
		}
	}

	if testing.Short() {
		return
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	exe := filepath.Join(t.TempDir(), "odd")
	build := exec.Command(gobin, "build", "-o", exe, ".")
	build.Dir, build.Env = dir, env
	t1 := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the generated code failed: %v\n%.5000s", err, out)
	}
	t.Logf("go build of the module took %v", time.Since(t1).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe).CombinedOutput()
	if err != nil {
		t.Fatalf("the program failed: %v\n%s", err, out)
	}
	want := "crlf: crlf:x\ncrlf-named: 7\nuni: grüße welt\nuni type: 42\nblock: 4\nlong name: 42\nlong ident: 9\nclash: d=1.5s\nhuge first: s0\nhuge last: s" + fmt.Sprint(hugeN-1) + "\n"
	if string(out) != want {
		t.Errorf("the program printed:\n%s\nwant:\n%s", out, want)
	}
}

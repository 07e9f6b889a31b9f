package gen

import (
	"go/build/constraint"
	"go/token"
	"os"
	"path/filepath"
	"testing"
)

func TestNameConstraint(t *testing.T) {
	for name, want := range map[string]string{
		"main.go":             "",
		"linux.go":            "", // a name needs a _ before GOOS
		"x_linux.go":          "linux",
		"x_arm64.go":          "arm64",
		"x_linux_arm64.go":    "linux && arm64",
		"x_linux.pb.go":       "linux",
		"zz_mpgen-x_linux.go": "linux",
		"zz_mpgen-linux.go":   "",
		"x_test.go":           "",
		"x_windows_test.go":   "windows",
		"x_nolinux.go":        "",
	} {
		got := ""
		if e := nameConstraint(name); e != nil {
			got = e.String()
		}
		if got != want {
			t.Errorf("nameConstraint(%q) = %q, want %q", name, got, want)
		}
	}
}

// The generated file for a constrained file carries its whole condition,
// and its name says about GOOS and GOARCH what the source's does.
func TestBuildLine(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, src, want string
	}{
		{"plain.go", "package p\n", ""},
		{"w.go", "//go:build windows || darwin\n\npackage p\n", "//go:build windows || darwin"},
		{"x_linux.go", "package p\n", "//go:build linux"},
		{"x_linux.go", "//go:build amd64\n\npackage p\n", "//go:build amd64 && linux"},
		{"old.go", "// +build linux darwin\n// +build cgo\n\npackage p\n", "//go:build (linux || darwin) && cgo"},
		{"c.go", "package p\n\n// #include <stdlib.h>\nimport \"C\"\n", "//go:build cgo"},
		{"c2.go", "//go:build cgo && linux\n\npackage p\n\nimport \"C\"\n", "//go:build cgo && linux"},
		{"c3.go", "//go:build linux\n\npackage p\n\nimport \"C\"\n", "//go:build linux && cgo"},
	} {
		path := filepath.Join(dir, tt.name)
		if err := os.WriteFile(path, []byte(tt.src), 0o666); err != nil {
			t.Fatal(err)
		}
		f, err := readSrcFile(token.NewFileSet(), path, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.buildLine(); got != tt.want {
			t.Errorf("%s %q: build line %q, want %q", tt.name, tt.src, got, tt.want)
		}
		if f.constrained() != (tt.want != "") {
			t.Errorf("%s: constrained() = %v", tt.name, f.constrained())
		}
		if got := nameConstraint(constrainedOutput(DefaultOutput, path)); (got == nil) != (f.name == nil) || got != nil && got.String() != f.name.String() {
			t.Errorf("%s: the generated file's name says %v, the source's %v", tt.name, got, f.name)
		}
	}
}

func TestSolve(t *testing.T) {
	base := config{goos: "linux", goarch: "amd64", cgo: false, tags: []string{"mine"}}
	for _, tt := range []struct {
		expr string
		want string // "" for none
	}{
		{"linux", "GOOS=linux GOARCH=amd64 CGO_ENABLED=0 -tags=mine"},
		{"windows", "GOOS=windows GOARCH=amd64 CGO_ENABLED=0 -tags=mine"},
		{"!linux", "GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 -tags=mine"},
		{"darwin && amd64", "GOOS=darwin GOARCH=amd64 CGO_ENABLED=0 -tags=mine"},
		{"arm64 && !darwin", "GOOS=linux GOARCH=arm64 CGO_ENABLED=0 -tags=mine"},
		{"cgo", "GOOS=linux GOARCH=amd64 CGO_ENABLED=1 -tags=mine"},
		{"unix && !linux", "GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 -tags=mine"},
		{"special", "GOOS=linux GOARCH=amd64 CGO_ENABLED=0 -tags=mine,special"},
		{"!mine", "GOOS=linux GOARCH=amd64 CGO_ENABLED=0"},
		{"go1.1 && gc", "GOOS=linux GOARCH=amd64 CGO_ENABLED=0 -tags=mine"},
		{"ignore", ""},
		{"linux && windows", ""},
		{"gccgo", ""},
		{"go1.999", ""},
	} {
		e, err := constraint.Parse("//go:build " + tt.expr)
		if err != nil {
			t.Fatal(err)
		}
		c, ok, err := solve(e, base, "linux/amd64")
		got := ""
		if ok {
			got = c.String()
		}
		if err != nil || got != tt.want {
			t.Errorf("solve(%s) = %q, %v; want %q", tt.expr, got, err, tt.want)
		}
	}
	// cgo on another port is tried on the host first.
	e, _ := constraint.Parse("//go:build cgo")
	if c, ok, _ := solve(e, config{goos: "windows", goarch: "amd64"}, "linux/amd64"); !ok || c.String() != "GOOS=linux GOARCH=amd64 CGO_ENABLED=1" {
		t.Errorf("solve(cgo) from windows on a linux host = %v, %v", c, ok)
	}
	e, _ = constraint.Parse("//go:build a && b && c && d && e && f && g && h && i && j && k && l && m")
	if _, _, err := solve(e, base, ""); err == nil {
		t.Error("solve of 13 free tags: no error")
	}
}

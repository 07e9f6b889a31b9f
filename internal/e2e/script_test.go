// Package e2e runs mpgen the way a user does, end to end: each script in
// testdata/script is a temporary module (with a replace directive pointing
// at this repository) that runs `go generate`, builds the program and runs
// it with its children.
package e2e

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end scripts build programs: skipped in -short mode")
	}
	if runtime.GOOS == "windows" {
		t.Skip("children need a Unix socketpair")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	goEnv := goEnv(t, "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOFLAGS", "GOTOOLCHAIN")
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Vars = append(env.Vars, goEnv...)
			// The scratch module's go.mod lists only mpgen; let the go
			// command complete it from the module cache, as go mod tidy would.
			env.Setenv("GOFLAGS", strings.TrimSpace(env.Getenv("GOFLAGS")+" -mod=mod"))
			env.Vars = append(env.Vars, "MPGEN_ROOT="+root)
			gomod := "module example.com/demo\n\ngo 1.26\n\nrequire github.com/mpgen/mpgen v0.0.0\n\nreplace github.com/mpgen/mpgen => " + root + "\n"
			if err := os.WriteFile(filepath.Join(env.WorkDir, "go.mod"), []byte(gomod), 0o644); err != nil {
				return err
			}
			sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(env.WorkDir, "go.sum"), sum, 0o644)
		},
	})
}

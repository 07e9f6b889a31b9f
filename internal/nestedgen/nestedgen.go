// Package nestedgen runs mpgen for the nested modules of this repository
// (mpnats, mpotel): their internal/mpgen commands are this package's Run.
//
// `go tool mpgen` would need a tool line in a nested module's go.mod, and
// with it mpgen's own dependencies (golang.org/x/tools, jennifer) as
// requirements of a module whose library needs none of them. The core
// module pins them already: mpgen is built there and run in the nested
// module's directory, so that it loads that module's packages.
package nestedgen

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// core is the module whose cmd/mpgen this runs.
const core = "github.com/mpgen/mpgen"

// Run builds the core module's cmd/mpgen where the current module's go.mod
// finds the core (its replace, or the module cache), runs it in the current
// directory with args, and returns its exit code. module names the nested
// module in messages.
func Run(module string, args []string) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "mpgen ("+module+"): "+format+"\n", args...)
		return 1
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", core).Output()
	if err != nil {
		return fail("find module %s: %v%s", core, err, stderrOf(err))
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return fail("module %s has no directory here: run go mod download %s", core, core)
	}
	tmp, err := os.MkdirTemp("", "mpgen-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(tmp)
	exe := filepath.Join(tmp, "mpgen")
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	build := exec.Command("go", "build", "-o", exe, "./cmd/mpgen")
	build.Dir = dir
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fail("build %s/cmd/mpgen in %s: %v", core, dir, err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode() // mpgen has said why
	case err != nil:
		return fail("run mpgen: %v", err)
	}
	return 0
}

// stderrOf is the standard error of a failed command run by Output.
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return ": " + strings.TrimSpace(string(ee.Stderr))
	}
	return ""
}

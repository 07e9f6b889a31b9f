package mpotel_test

import (
	"os/exec"
	"testing"
)

// The generated files of this module (the test targets') are those that
// mpgen writes now: the root module's `mpgen -check ./...` skips nested
// modules, so this module checks its own, with the core's mpgen built by
// internal/mpgen.
func TestGeneratedFilesAreFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds mpgen")
	}
	out, err := exec.Command("go", "run", "./internal/mpgen", "-check", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("mpgen -check ./...: %v\n%s(run go generate ./... in mpotel)", err, out)
	}
}

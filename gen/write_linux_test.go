//go:build linux

package gen

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Commit must never leave a partial file in place of a good one. Here the
// write of the new content fails half-way (a file size limit, RLIMIT_FSIZE,
// lower than the new file: the kernel refuses the write past it with
// EFBIG, as a full disk would with ENOSPC). Commit must report the error
// and leave either the old file or the new one, whole, and no stray file.
// The limit is set in a helper process (this test binary again), so the go
// commands that other tests run do not inherit it.
func TestCommitNeverLeavesPartialFile(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, DefaultOutput)
	old := []byte(header + "\n\npackage p\n\n// the good, previous output\n")
	if err := os.WriteFile(out, old, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommitHelper$", "-test.v")
	cmd.Env = append(os.Environ(), "MPGEN_GEN_HELPER="+dir)
	output, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(output), "--- PASS: TestCommitHelper") {
		t.Fatalf("helper: %v\n%s", err, output)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the generated file is gone: %v\n%s", err, output)
	}
	if !bytes.Equal(got, old) && !bytes.Equal(got, newContent()) {
		t.Errorf("after a failed Commit the file holds %d bytes, neither the old file (%d bytes) nor the new one (%d bytes)\n%s", len(got), len(old), len(newContent()), output)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files left in the package directory: %v", names)
	}
}

// newContent is a generated file larger than the helper's file size limit.
func newContent() []byte {
	return []byte(header + "\n\npackage p\n\n" + strings.Repeat("// new output, larger than the limit\n", 2000))
}

// TestCommitHelper commits newContent under a 4 KiB file size limit, in
// the directory MPGEN_GEN_HELPER names; run directly, it does nothing.
func TestCommitHelper(t *testing.T) {
	dir := os.Getenv("MPGEN_GEN_HELPER")
	if dir == "" {
		t.Skip("helper process of TestCommitNeverLeavesPartialFile")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = 4096
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	r := Result{PkgPath: "example.com/p", Dir: dir, OutputPath: filepath.Join(dir, DefaultOutput), Content: newContent()}
	_, err := r.Commit()
	t.Logf("Commit of %d bytes under a 4096-byte file size limit: %v", len(r.Content), err)
	if err == nil {
		t.Error("Commit succeeded although the file could not be written whole")
	}
}

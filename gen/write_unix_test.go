//go:build unix

package gen

import (
	"io/fs"
	"os"
	"syscall"
	"testing"
)

// A new generated file gets the mode the umask allows, as a file made by
// os.WriteFile would; an existing one keeps its mode. (Not parallel: the
// umask belongs to the whole process.)
func TestCommitModeUnderUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)

	mode := func(path string) fs.FileMode {
		t.Helper()
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return info.Mode().Perm()
	}

	r := result(t, "", []byte(ours))
	if _, err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := mode(r.OutputPath); got != 0o600 {
		t.Errorf("new file under umask 077: mode %v, want %v", got, fs.FileMode(0o600))
	}

	syscall.Umask(0o022)
	r = result(t, "", []byte(ours))
	if _, err := r.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := mode(r.OutputPath); got != 0o644 {
		t.Errorf("new file under umask 022: mode %v, want %v", got, fs.FileMode(0o644))
	}

	// An existing file keeps its mode, whatever the umask.
	for _, keep := range []fs.FileMode{0o640, 0o664} {
		syscall.Umask(0o077)
		r = result(t, ours, []byte(oursToo))
		if err := os.Chmod(r.OutputPath, keep); err != nil {
			t.Fatal(err)
		}
		if changed, err := r.Commit(); err != nil || !changed {
			t.Fatalf("Commit = %v, %v; want a rewrite", changed, err)
		}
		if got := mode(r.OutputPath); got != keep {
			t.Errorf("rewritten file: mode %v, want its old mode %v", got, keep)
		}
	}
}

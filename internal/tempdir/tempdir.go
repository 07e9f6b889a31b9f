// Package tempdir makes temporary directories for tests that also run on
// Windows under Wine, where testing.T.TempDir cannot clean up.
//
// T.TempDir removes its directory with os.RemoveAll. On Windows, Go 1.26's
// RemoveAll deletes each entry of a directory through NtSetInformationFile
// with the FileDispositionInformationEx class (internal/syscall/windows.Deleteat)
// and falls back to the older class only for STATUS_INVALID_INFO_CLASS,
// STATUS_INVALID_PARAMETER and STATUS_NOT_SUPPORTED. Wine 8.0 does not know the
// class and answers STATUS_NOT_IMPLEMENTED, so RemoveAll of any directory with
// something in it fails with "unlinkat ...: Invalid function.", and so does
// every test that calls T.TempDir (even an empty one: TempDir makes a numbered
// directory inside a per-test one). No GODEBUG setting changes this. os.Remove
// still works there (it calls DeleteFileW and RemoveDirectoryW), so this package
// removes a tree with os.Remove, its deepest entries first.
package tempdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// New makes an empty directory for the test and removes it, with everything in
// it, when the test and its subtests end, as T.TempDir does. A failure to
// remove it fails the test.
func New(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp(os.Getenv("GOTMPDIR"), pattern(t.Name()))
	if err != nil {
		t.Fatalf("tempdir: %v", err)
	}
	t.Cleanup(func() {
		if err := RemoveTree(dir); err != nil {
			t.Errorf("tempdir: cleanup: %v", err)
		}
	})
	return dir
}

// RemoveTree removes the directory dir and everything under it with os.Remove
// alone, so that it works under Wine too. A symbolic link is removed, never
// followed. A dir that does not exist is not an error.
func RemoveTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if e.IsDir() { // false for a link to a directory: the link goes, not its target
			err = RemoveTree(p)
		} else {
			err = os.Remove(p)
		}
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := os.Remove(dir); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// pattern makes a test's name usable in a directory name, as T.TempDir does:
// subtests' slashes and characters special to os.MkdirTemp are dropped, and a
// long name is cut short.
func pattern(name string) string {
	name = strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return -1
	}, name)
	return name[:min(len(name), 64)]
}

package tempdir

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A directory from New is empty and usable during the test and gone, with a
// tree of files and directories in it, once the test has ended. Under Wine,
// where T.TempDir's cleanup fails, this is the test that shows New's works.
func TestNewRemovesTree(t *testing.T) {
	var dir string
	t.Run("user", func(t *testing.T) {
		dir = New(t)
		if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
			t.Fatalf("new directory: %v, %v", entries, err)
		}
		if !strings.Contains(filepath.Base(dir), "TestNewRemovesTreeuser") {
			t.Errorf("directory %s is not named after the test", dir)
		}
		deep := filepath.Join(dir, "a", "b", "c")
		if err := os.MkdirAll(deep, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{filepath.Join(dir, "top"), filepath.Join(dir, "a", "mid"), filepath.Join(deep, "leaf")} {
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
			t.Fatal(err)
		}
		// A read-only file: os.Remove on Windows clears the attribute first.
		if err := os.WriteFile(filepath.Join(dir, "a", "readonly"), []byte("x"), 0o444); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s after the test: %v, want it gone", dir, err)
	}
}

// RemoveTree removes a link to a directory, not what it points to.
func TestRemoveTreeKeepsLinkTargets(t *testing.T) {
	outside := New(t)
	kept := filepath.Join(outside, "kept")
	if err := os.WriteFile(kept, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tree := New(t)
	link := filepath.Join(tree, "link")
	if err := os.Symlink(outside, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	// Wine 8's CreateSymbolicLinkW is a stub that reports success and makes
	// nothing.
	if _, err := os.Lstat(link); err != nil {
		t.Skipf("os.Symlink succeeded but made no link: %v", err)
	}
	if err := RemoveTree(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Fatalf("%s: %v, want it gone", tree, err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("the link's target lost its file: %v", err)
	}
}

// Removing what is not there succeeds, as os.RemoveAll does.
func TestRemoveTreeMissing(t *testing.T) {
	if err := RemoveTree(filepath.Join(New(t), "missing")); err != nil {
		t.Fatal(err)
	}
}

func TestPattern(t *testing.T) {
	for name, want := range map[string]string{
		"TestX/sub_case-1.2":     "TestXsub_case-1.2",
		`a*b?c\d:e`:              "abcde",
		strings.Repeat("n", 100): strings.Repeat("n", 64),
	} {
		if got := pattern(name); got != want {
			t.Errorf("pattern(%q) = %q, want %q", name, got, want)
		}
	}
}

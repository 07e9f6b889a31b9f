package gen

// Helpers shared by the generator's test files: each is used by more than
// one of them (a helper used by one file stays in it).

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"
)

const hostileModPath = "example.com/hostile"

// writeFiles writes files (paths relative to dir) into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, src := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

// hostileModule makes a module example.com/hostile of files in a new
// directory and returns the directory.
func hostileModule(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"go.mod": "module " + hostileModPath + "\n\ngo 1.26\n"})
	writeFiles(t, dir, files)
	return dir
}

// generateNoPanic runs Generate on ./... in dir with env, and fails the
// test (rather than crashing the binary) if it panics or returns errors
// that concern no package.
func generateNoPanic(t *testing.T, dir string, env []string) (results []Result) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Generate panicked: %v\n%s", r, debug.Stack())
		}
	}()
	results, errs := Generate(context.Background(), dir, env, []string{"./..."}, nil)
	if len(errs) > 0 {
		t.Fatalf("Generate: errors that concern no package: %v", errs)
	}
	return results
}

// ours and oursToo are two generated files (mpgen's header); the Commit
// tests write them over each other.
const (
	ours    = header + "\n\npackage p\n"
	oursToo = header + "\n\npackage p\n\nvar _ = 1\n"
)

// result returns a Result for the file out in a new directory, holding old
// unless old is "".
func result(t *testing.T, old string, content []byte) Result {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, DefaultOutput)
	if old != "" {
		if err := os.WriteFile(out, []byte(old), 0o666); err != nil {
			t.Fatal(err)
		}
		// An old mtime, so that a rewrite shows.
		past := time.Now().Add(-time.Hour).Truncate(time.Second)
		if err := os.Chtimes(out, past, past); err != nil {
			t.Fatal(err)
		}
	}
	return Result{PkgPath: "example.com/p", Dir: dir, OutputPath: out, Content: content}
}

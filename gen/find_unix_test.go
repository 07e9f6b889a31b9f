//go:build unix

package gen

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A package reached through a symbolic link below its module (link -> real)
// registers the same names, and gets the same file, as through its real
// directory: the file must not flip with the directory mpgen runs in.
func TestSymlinkedDirectory(t *testing.T) {
	dir := hostileModule(t, map[string]string{
		"real/real.go": "package real\n\nimport \"errors\"\n\n// ErrReal is a sentinel.\nvar ErrReal = errors.New(\"real\")\n\n//mp:target\nfunc Work(n int) int { return n }\n",
	})
	if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	var contents [][]byte
	for _, sub := range []string{"real", "link"} {
		results := generateNoPanic(t, filepath.Join(dir, sub), nil)
		if len(results) != 1 || len(results[0].Errs) > 0 || results[0].Content == nil {
			t.Fatalf("in %s: %+v", sub, results)
		}
		content := results[0].Content
		for _, want := range []string{`"` + hostileModPath + `/real.Work"`, `"` + hostileModPath + `/real.ErrReal"`} {
			if !bytes.Contains(content, []byte(want)) {
				t.Errorf("in %s: the file does not register %s:\n%s", sub, want, content)
			}
		}
		if strings.Contains(string(content), "/link.") {
			t.Errorf("in %s: the file registers names after the link:\n%s", sub, content)
		}
		contents = append(contents, content)
	}
	if !bytes.Equal(contents[0], contents[1]) {
		t.Errorf("the files differ:\n%s\n---\n%s", contents[0], contents[1])
	}
}

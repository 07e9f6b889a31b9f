package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/gen")

// casesDir holds one directory per golden case, besides fixture, which holds
// packages the cases import. A case's want directory holds zz_mpgen.go.golden
// (the generated file), or errors.txt (the errors, one per line, with paths
// relative to the case directory), or nothing at all when the package gets
// no generated file.
const casesDir = "../testdata/gen"

const (
	goldenName = DefaultOutput + ".golden"
	errorsName = "errors.txt"
)

func caseNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "fixture" {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no cases in %s", casesDir)
	}
	return names
}

func TestGolden(t *testing.T) {
	for _, name := range caseNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(casesDir, name)
			results, errs := Generate(context.Background(), dir, nil, []string{"."}, nil)
			if len(errs) > 0 {
				t.Fatalf("Generate: %v", errs)
			}
			if len(results) != 1 {
				t.Fatalf("Generate returned %d results, want 1", len(results))
			}
			res := results[0]
			gotErrors := scrubErrors(t, dir, res.Errs)
			want := filepath.Join(dir, "want")
			if *update {
				writeGolden(t, want, res.Content, gotErrors)
				return
			}
			compareGolden(t, filepath.Join(want, goldenName), res.Content)
			compareGolden(t, filepath.Join(want, errorsName), gotErrors)
		})
	}
}

// scrubErrors returns errs one per line, with the absolute path of dir
// replaced by nothing, so that positions read "main.go:3:1".
func scrubErrors(t *testing.T, dir string, errs []error) []byte {
	t.Helper()
	if len(errs) == 0 {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, e := range errs {
		b.WriteString(strings.ReplaceAll(e.Error(), abs+string(filepath.Separator), ""))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// compareGolden compares got with the golden file path; nil got means the
// file must not exist.
func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if got != nil {
			t.Errorf("got output for %s, which does not exist (run go test -update):\n%s", path, got)
		}
	case err != nil:
		t.Fatal(err)
	case got == nil:
		t.Errorf("got no output, want %s", path)
	case !bytes.Equal(got, want):
		t.Errorf("output differs from %s (run go test -update to accept it):\n%s", path, lineDiff(want, got))
	}
}

func writeGolden(t *testing.T, want string, content, errs []byte) {
	t.Helper()
	if err := os.RemoveAll(want); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{goldenName: content, errorsName: errs} {
		if data == nil {
			continue
		}
		if err := os.MkdirAll(want, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(want, name), data, 0o666); err != nil {
			t.Fatal(err)
		}
	}
}

// lineDiff shows the first lines where want and got differ.
func lineDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl + "\n")
		}
	}
	return b.String()
}

// TestGoldenCompiles builds every golden case with its golden file in place
// of the package's generated file, so that the golden is code that compiles
// against the runtime and passes go vet, not just text.
func TestGoldenCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	overlay := map[string]string{}
	var pkgs []string
	for _, name := range caseNames(t) {
		golden, err := filepath.Abs(filepath.Join(casesDir, name, "want", goldenName))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(golden); err != nil {
			continue // an error case, or a package without output
		}
		overlay[filepath.Join(filepath.Dir(filepath.Dir(golden)), DefaultOutput)] = golden
		pkgs = append(pkgs, "./"+filepath.ToSlash(filepath.Join(casesDir, name)))
	}
	data, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	overlayFile := filepath.Join(t.TempDir(), "overlay.json")
	if err := os.WriteFile(overlayFile, data, 0o666); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gobin, append([]string{"vet", "-overlay=" + overlayFile}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go vet of the golden cases failed: %v\n%s", err, out)
	}
}

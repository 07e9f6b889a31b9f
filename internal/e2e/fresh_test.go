package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/mpgen/mpgen/gen"
)

// TestGeneratedCodeIsFresh fails when a committed zz_mpgen.go in this
// repository differs from what mpgen generates now: run go generate ./...
func TestGeneratedCodeIsFresh(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	results, errs := gen.Generate(context.Background(), root, nil, []string{"./examples/...", "./internal/...", "./bench/..."}, nil)
	for _, err := range errs {
		t.Errorf("generate: %v", err)
	}
	if len(results) == 0 {
		t.Fatal("no packages generated")
	}
	for _, r := range results {
		stale, err := r.Stale()
		if err != nil {
			t.Errorf("%s: %v", r.PkgPath, err)
			continue
		}
		if stale {
			t.Errorf("%s is stale: run go generate ./... and commit it", r.OutputPath)
		}
	}
}

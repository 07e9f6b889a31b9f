package gen_test

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"strings"

	"github.com/mpgen/mpgen/gen"
)

// Generate finds the targets of a package and returns the file to write for
// it, which registers each target under its name; Commit would write the
// file. Here the type targets of a test package.
func ExampleGenerate() {
	results, errs := gen.Generate(context.Background(), "../testdata/gen/types", nil, []string{"."}, nil)
	if len(errs) > 0 {
		log.Fatal(errs)
	}
	for _, r := range results {
		fmt.Printf("%s: %d errors, writes %s: %v\n", r.PkgPath, len(r.Errs), filepath.Base(r.OutputPath), r.Content != nil)
		for _, line := range strings.Split(string(r.Content), "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(line), "Name:"); ok {
				fmt.Println("  registers", strings.TrimSuffix(strings.TrimSpace(name), ","))
			}
		}
	}
	// Output:
	// github.com/mpgen/mpgen/testdata/gen/types: 0 errors, writes zz_mpgen.go: true
	//   registers "counter"
	//   registers "main.Fetch"
	//   registers "main.Greeter"
	//   registers "main.Loud"
	//   registers "main.Span"
	//   registers "main.Ticks"
}

package gen_test

import (
	"context"
	"fmt"
	"log"
	"path/filepath"

	"github.com/mpgen/mpgen/gen"
)

// Generate finds the targets of a package and the file to write for it;
// Commit would write the file. Here the type targets of a test package.
func ExampleGenerate() {
	results, errs := gen.Generate(context.Background(), "../testdata/gen/types", nil, []string{"."}, nil)
	if len(errs) > 0 {
		log.Fatal(errs)
	}
	for _, r := range results {
		fmt.Printf("%s: %d errors, writes %s: %v\n", r.PkgPath, len(r.Errs), filepath.Base(r.OutputPath), r.Content != nil)
		for _, t := range r.Targets {
			fmt.Printf("  %s %s, registered as %q\n", t.Kind, t.Ident, t.Name)
		}
	}
	// Output:
	// github.com/mpgen/mpgen/testdata/gen/types: 0 errors, writes zz_mpgen.go: true
	//   type Greeter, registered as "main.Greeter"
	//   type Counter, registered as "counter"
	//   type Fetch, registered as "main.Fetch"
	//   type Ticks, registered as "main.Ticks"
	//   type Loud, registered as "main.Loud"
	//   type Span, registered as "main.Span"
}

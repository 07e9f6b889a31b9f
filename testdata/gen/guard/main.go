// Command guard has no targets, but links the runtime (it could start the
// targets of other packages): it still gets the main guard. Its stale
// zz_mpgen.go names a target that no longer exists, which must not matter.
package main

import (
	"fmt"

	_ "github.com/mpgen/mpgen/runtime"
)

func init() { fmt.Println("init in main.go runs before the guard") }

func main() {}

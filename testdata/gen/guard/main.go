// Command guard has no targets: it still gets the main guard. Its stale
// zz_mpgen.go names a target that no longer exists, which must not matter.
package main

import "fmt"

func init() { fmt.Println("init in main.go runs before the guard") }

func main() {}

//go:build unix && (!linux || mpgen_portable)

package proc

import "os"

// selfImage is empty: off Linux there is no path that starts the image
// that runs whatever became of its file. The portable build (tag
// mpgen_portable) does without /proc/self/exe on Linux too, as macOS must.
const selfImage = ""

func ownImage() (string, error) { return os.Executable() }

func runsOwnImage(pid int) bool { return true }

// TakeParentName does nothing off Linux: the child is named after the
// program's file, as its parent is.
func TakeParentName() {}

package proc

import "os"

// sameOpenFile is false: Windows gives pipes and consoles no identity that
// os.SameFile can compare (two different pipes compare equal), so only
// the same handle (sameFile) counts as one file.
func sameOpenFile(a, b *os.File) bool { return false }

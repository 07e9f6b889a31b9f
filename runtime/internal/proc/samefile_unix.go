//go:build unix

package proc

import "os"

// sameOpenFile reports whether a and b are one file: the same device and
// inode (a pipe has an inode of its own too).
func sameOpenFile(a, b *os.File) bool {
	sa, err := a.Stat()
	if err != nil {
		return false
	}
	sb, err := b.Stat()
	return err == nil && os.SameFile(sa, sb)
}

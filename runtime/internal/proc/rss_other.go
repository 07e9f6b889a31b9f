//go:build !linux || mpgen_portable

package proc

// RSS is not implemented off Linux, nor in the portable build (tag
// mpgen_portable), which runs macOS's code on Linux; MaxRSS is ignored
// there.
func RSS(pid int) (int64, bool) { return 0, false }

//go:build !linux

package proc

// RSS is not implemented off Linux; MaxRSS is ignored there.
func RSS(pid int) (int64, bool) { return 0, false }

//go:build !linux

package mp

// processRSS is not implemented off Linux; MaxRSS is ignored there.
func processRSS(pid int) (int64, bool) { return 0, false }

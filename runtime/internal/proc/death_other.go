//go:build !linux || mpgen_portable

package proc

// oomKills is unknown off Linux (and under mpgen_portable, which runs
// macOS's code): no kernel interface there counts OOM kills.
func oomKills() (uint64, bool) { return 0, false }

//go:build linux && !mpgen_portable

package proc

import (
	"bytes"
	"os"
	"strconv"
)

// oomKills returns how many processes the kernel's OOM killer has killed
// since boot, the system's or a memory cgroup's (the oom_kill line of
// /proc/vmstat, Linux 4.13 and later).
func oomKills() (uint64, bool) {
	data, err := os.ReadFile("/proc/vmstat")
	if err != nil {
		return 0, false
	}
	i := bytes.Index(data, []byte("\noom_kill "))
	if i < 0 {
		return 0, false
	}
	rest := data[i+len("\noom_kill "):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	n, err := strconv.ParseUint(string(rest), 10, 64)
	return n, err == nil
}

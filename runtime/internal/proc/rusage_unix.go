//go:build unix

package proc

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSS returns the peak resident memory of the process whose state is
// ps, in bytes, from the rusage its wait returned (0 if unknown). Linux
// and the BSDs report kilobytes, macOS bytes.
func maxRSS(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}

package proc

import (
	"bytes"
	"os"
)

// traced reports whether a tracer (a debugger) is attached: the TracerPid
// line of /proc/self/status is not 0.
func traced() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	i := bytes.Index(b, []byte("\nTracerPid:"))
	if i < 0 {
		return false
	}
	rest := b[i+len("\nTracerPid:"):]
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	rest = bytes.TrimSpace(rest)
	return len(rest) > 0 && string(rest) != "0"
}

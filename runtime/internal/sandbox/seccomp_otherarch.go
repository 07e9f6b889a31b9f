//go:build linux && !amd64 && !arm64

package sandbox

import "runtime"

// No filter is written for this architecture yet: Check fails (or, with
// BestEffort, runs without one).
const (
	auditArch = 0
	x32Bit    = 0
)

var (
	archName   = runtime.GOARCH
	deniedArch []uintptr
)

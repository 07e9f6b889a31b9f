//go:build linux && !amd64 && !arm64

package sandbox

import (
	"errors"
	"fmt"
	"runtime"
)

// No filter is written for this architecture yet: Check fails (or, with
// BestEffort, runs without one).
func seccompAvailable() error {
	return fmt.Errorf("no system call filter for %s yet: %w", runtime.GOARCH, errors.ErrUnsupported)
}

func installFilter(*Spec) error { return seccompAvailable() }

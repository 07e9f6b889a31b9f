//go:build !linux

package sandbox

import (
	"os/exec"
	"time"
)

// Check fails: a sandbox needs Linux, and a partial one is never applied.
func Check(s *Spec) (*Spec, error) { return nil, fail("Sandbox", errUnsupported) }

// Prepare fails like Check.
func Prepare(s *Spec, cmd *exec.Cmd) error { return fail("Sandbox", errUnsupported) }

// Enter fails like Check.
func Enter(s *Spec, keep []int) error { return fail("Sandbox", errUnsupported) }

// Seal fails like Check.
func Seal(s *Spec) error { return fail("Sandbox", errUnsupported) }

// Fault finds none: no sandbox runs here.
func (s *Spec) Fault(code int, cpu time.Duration, maxRSS int64, stderr string) Fault {
	return FaultNone
}

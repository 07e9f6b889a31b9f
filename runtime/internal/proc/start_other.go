//go:build unix && !linux

package proc

import "os/exec"

// startChild starts cmd. Off Linux a child learns of its parent's end only
// from its control channel's end of file (package mp watches it), which a
// stopped child cannot see until it continues.
func startChild(cmd *exec.Cmd) error { return cmd.Start() }

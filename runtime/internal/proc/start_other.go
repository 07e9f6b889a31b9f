//go:build unix && (!linux || mpgen_portable)

package proc

import "os/exec"

// startChild starts cmd. Off Linux, and in the portable build (tag
// mpgen_portable) that runs macOS's code on Linux, a child learns of its
// parent's end only from its control channel's end of file (package mp
// watches it), which a stopped child cannot see until it continues.
func startChild(cmd *exec.Cmd) error { return cmd.Start() }

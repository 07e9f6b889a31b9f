package mp

import (
	"os"
	"os/exec"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// otherProcess returns the identity of a live process that is not this
// one and outlives the test: the parent. It skips t when /proc cannot
// tell the parent's start time.
func otherProcess(t *testing.T) shm.ProcID {
	t.Helper()
	other := shm.ProcIDOf(os.Getppid())
	if other == 0 || other.Pid() == os.Getpid() {
		t.Skip("no readable /proc/<pid>/stat for the parent")
	}
	return other
}

// endedProcess returns the pid of a process that ended and was reaped.
func endedProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("cannot run true:", err)
	}
	return cmd.Process.Pid
}

package mp

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/shm"
)

// otherProcess returns the identity of a live process that is not this
// one and outlives the test: a copy of the test binary asleep in
// TestHelperAsleep, killed when the test ends.
func otherProcess(t *testing.T) shm.ProcID {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAsleep$")
	cmd.Env = append(os.Environ(), "MPGEN_TEST_ASLEEP=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	id := shm.ProcIDOf(cmd.Process.Pid)
	if id == 0 {
		t.Fatalf("no identity for the running child %d", cmd.Process.Pid)
	}
	return id
}

// TestHelperAsleep is the process of otherProcess: it sleeps until killed.
func TestHelperAsleep(t *testing.T) {
	if os.Getenv("MPGEN_TEST_ASLEEP") != "1" {
		t.Skip("the child of otherProcess")
	}
	time.Sleep(time.Minute)
}

// endedProcess returns the pid of a process that ended and was waited
// for, once no process has that pid: Wine frees an exited process's id
// about half a second after its last handle is closed.
func endedProcess(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	deadline := time.Now().Add(10 * time.Second)
	for !shm.MakeProcID(pid, 1).Gone() {
		if time.Now().After(deadline) {
			t.Fatalf("the pid %d of a process that ended is still taken", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return pid
}

//go:build unix

package shm

import (
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// needStartTimes skips t where the system tells no process start times
// (the BSDs other than FreeBSD, Solaris): identities are judged by their pid
// alone there, and a zombie passes for alive. Linux, macOS and FreeBSD must
// tell them.
func needStartTimes(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "android", "darwin", "ios", "freebsd":
	default:
		if Self().Start() == 0 {
			t.Skip("no process start times on " + runtime.GOOS + ": identities are judged by their pid alone")
		}
	}
}

// Self is this process's pid with its start time; ProcIDOf finds the same.
func TestSelf(t *testing.T) {
	needStartTimes(t)
	id := Self()
	if id.Pid() != os.Getpid() || id.Start() == 0 {
		t.Fatalf("Self = pid %d start %d, want pid %d and a start time", id.Pid(), id.Start(), os.Getpid())
	}
	if ProcIDOf(os.Getpid()) != id || Self() != id {
		t.Fatalf("ProcIDOf(self) = %#x, Self = %#x", ProcIDOf(os.Getpid()), id)
	}
	if id&(1<<63) != 0 || MakeProcID(1<<31-1, ^uint32(0))&(1<<63) != 0 {
		t.Fatal("a ProcID has bit 63 set")
	}
	if p := MakeProcID(4194303, 7); p.Pid() != 4194303 || p.Start() != 7 {
		t.Fatalf("MakeProcID round trip: %d %d", p.Pid(), p.Start())
	}
}

// Alive tells live processes from absent ones, from zombies (ended, not
// reaped: they hold nothing), and from a live process that reuses a dead
// one's pid (same pid, another start time). Gone, the cheap check, is
// true only once the pid is free.
func TestProcIDAlive(t *testing.T) {
	needStartTimes(t) // and zombies told from live processes
	if !Self().Alive() || !ProcIDOf(1).Alive() {
		t.Fatal("this process or init is not alive")
	}
	if ProcID(0).Alive() || ProcIDOf(0) != 0 || ProcIDOf(-1) != 0 {
		t.Fatal("pid 0 or -1 is alive")
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command")
	}
	cmd := exec.Command(sleep, "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	id := ProcIDOf(pid)
	if id.Pid() != pid || !id.Alive() {
		t.Fatalf("a running child (%#x) is not alive", id)
	}
	// What a holder that died leaves when its pid goes to this child.
	reused := MakeProcID(pid, id.Start()+1)
	if reused.Alive() {
		t.Fatal("a live process with the pid but another start time passed for the recorded one")
	}
	// A start time of 0 (unknown) is judged by the pid alone.
	if !MakeProcID(pid, 0).Alive() {
		t.Fatal("an identity without a start time is not judged by its pid")
	}
	if id.Gone() || reused.Gone() || Self().Gone() {
		t.Fatal("Gone for a pid that is running")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for id.Alive() {
		if time.Now().After(deadline) {
			t.Fatal("a killed, unreaped child is still alive")
		}
		time.Sleep(time.Millisecond)
	}
	if ProcIDOf(pid) != 0 {
		t.Fatal("ProcIDOf a zombie is not 0")
	}
	if id.Gone() {
		t.Fatal("Gone for a zombie: its pid is still taken")
	}
	cmd.Wait()
	if id.Alive() || MakeProcID(pid, 0).Alive() || !id.Gone() {
		t.Fatal("a reaped child is alive, or not gone")
	}
}

// BenchmarkProcIDAlive is what judging another process costs: one read of
// its /proc/<pid>/stat on Linux, one sysctl on macOS and FreeBSD (a lock waiter pays it once per wait slice, a
// Condition's Notify once per waiter of another process it wakes).
func BenchmarkProcIDAlive(b *testing.B) {
	id := ProcIDOf(1)
	for b.Loop() {
		if !id.Alive() {
			b.Fatal("init is not alive")
		}
	}
}

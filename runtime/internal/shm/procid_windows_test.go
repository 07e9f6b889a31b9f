package shm

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// Self is this process's pid with its creation time; ProcIDOf finds the
// same.
func TestSelf(t *testing.T) {
	id := Self()
	if id.Pid() != os.Getpid() || id.Start() == 0 {
		t.Fatalf("Self = pid %d start %d, want pid %d and a start time", id.Pid(), id.Start(), os.Getpid())
	}
	if ProcIDOf(os.Getpid()) != id || Self() != id {
		t.Fatalf("ProcIDOf(self) = %#x, Self = %#x", ProcIDOf(os.Getpid()), id)
	}
}

// TestHelperSleep is the child of TestProcIDAlive: it sleeps until
// killed.
func TestHelperSleep(t *testing.T) {
	if os.Getenv("MPGEN_SHM_SLEEP") != "1" {
		t.Skip("the child of TestProcIDAlive")
	}
	time.Sleep(time.Minute)
}

// Alive tells a live process from one that exited (still known by its id
// while a handle to it is open: it holds nothing), and from a live process
// that reuses a dead one's pid (same pid, another creation time). Gone is
// true only once the pid is free.
func TestProcIDAlive(t *testing.T) {
	if !Self().Alive() {
		t.Fatal("this process is not alive")
	}
	if ProcID(0).Alive() || ProcIDOf(0) != 0 || ProcIDOf(-1) != 0 {
		t.Fatal("pid 0 or -1 is alive")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSleep$")
	cmd.Env = append(os.Environ(), "MPGEN_SHM_SLEEP=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	id := ProcIDOf(pid)
	if id.Pid() != pid || id.Start() == 0 || !id.Alive() {
		t.Fatalf("a running child (%#x) is not alive", id)
	}
	reused := MakeProcID(pid, id.Start()+1)
	if reused.Alive() {
		t.Fatal("a live process with the pid but another creation time passed for the recorded one")
	}
	if !MakeProcID(pid, 0).Alive() {
		t.Fatal("an identity without a start time is not judged by its pid")
	}
	if id.Gone() || reused.Gone() || Self().Gone() {
		t.Fatal("Gone for a pid that is running")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for id.Alive() {
		if time.Now().After(deadline) {
			t.Fatal("a killed child is still alive")
		}
		time.Sleep(time.Millisecond)
	}
	if ProcIDOf(pid) != 0 || MakeProcID(pid, 0).Alive() {
		t.Fatal("an exited child has an identity, or is alive by its pid")
	}
	if id.Gone() {
		t.Fatal("Gone while this process holds a handle to the child")
	}
	cmd.Wait() // closes our handle: the pid may now be freed
	for !id.Gone() {
		if time.Now().After(deadline) {
			t.Fatal("the pid of a child that exited and was waited for is not free")
		}
		time.Sleep(time.Millisecond)
	}
	if id.Alive() {
		t.Fatal("a gone child is alive")
	}
}

// BenchmarkProcIDAlive is what judging another process costs on Windows:
// OpenProcess, a zero wait and GetProcessTimes.
func BenchmarkProcIDAlive(b *testing.B) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSleep$")
	cmd.Env = append(os.Environ(), "MPGEN_SHM_SLEEP=1")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	id := ProcIDOf(cmd.Process.Pid)
	for b.Loop() {
		if !id.Alive() {
			b.Fatal("the child is not alive")
		}
	}
}

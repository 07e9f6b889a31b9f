package proc

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// lowerFDLimit sets this process's soft descriptor limit to n until the
// test ends.
func lowerFDLimit(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	old := lim
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// A child whose stdout is the last descriptor under the limit starts (the
// file is duplicated lower down for the start); os/exec alone fails there
// with EBADF however many descriptors are free. With no lower descriptor
// free, Spawn fails with an error matching EMFILE.
func TestSpawnWithStdoutAtTheLimit(t *testing.T) {
	const limit = 128
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	lowerFDLimit(t, limit)
	if err := syscall.Dup3(int(out.Fd()), limit-1, syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	last := os.NewFile(limit-1, "stdout at the limit")
	defer last.Close()

	cmd, conn, outs, err := Spawn("", nil, "", []string{childEnv + "=exit"}, last, nil, nil)
	if err != nil {
		t.Fatalf("Spawn with stdout on descriptor %d, the last under the limit: %v", limit-1, err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Read(make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	ShutdownWrite(conn)
	_ = cmd.Wait()
	conn.Close()
	outs.Wait(OutputWait)
	if code, _ := ExitStatus(cmd.ProcessState); code != 7 {
		t.Fatalf("exit code %d", code)
	}
	if b, err := os.ReadFile(out.Name()); err != nil || string(b) != "child stdout\n" {
		t.Fatalf("the child's stdout: %q, %v", b, err)
	}

	// Now with the table full, then one, two, ... descriptors free: every
	// failed start matches EMFILE, as every other step's failure does when
	// descriptors run out, until the child starts.
	var hoard []*os.File
	defer func() { closeFiles(hoard) }()
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			break
		}
		hoard = append(hoard, f)
	}
	for free := 0; ; free++ {
		cmd, conn, outs, err := Spawn("", nil, "", []string{childEnv + "=exit"}, last, nil, nil)
		if err == nil {
			conn.Close()
			_ = cmd.Wait()
			outs.Wait(OutputWait)
			t.Logf("started with %d descriptors free", free)
			break
		}
		if !errors.Is(err, syscall.EMFILE) {
			t.Fatalf("%d free: Spawn = %v, want an error matching EMFILE", free, err)
		}
		if len(hoard) == 0 {
			t.Fatalf("no start with %d descriptors free: %v", free, err)
		}
		hoard[len(hoard)-1].Close()
		hoard = hoard[:len(hoard)-1]
	}
}

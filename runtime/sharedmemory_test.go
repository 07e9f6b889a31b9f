//go:build linux || windows

package mp_test

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// A SharedMemory passed to a target shares the parent's hold; a target
// that attaches by name and exits without closing never removes it.
func TestTargetsSharedMemory(t *testing.T) {
	name := "test-targets-" + itoa(os.Getpid())
	t.Cleanup(func() { removeBlock(name) })
	m, err := mp.CreateSharedMemory(name, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	p := start(t, &mp.Process{Target: targets.FillShared, Args: []any{m, byte(7)}})
	if err := join(t, p); err != nil {
		t.Fatal(err)
	}
	if res, _ := p.Result(); res != name || m.Bytes()[100] != 7 {
		t.Fatalf("result %v, byte %d", res, m.Bytes()[100])
	}
	for range 2 {
		if err := join(t, start(t, &mp.Process{Target: targets.AttachAndFill, Args: []any{name, byte(9)}})); err != nil {
			t.Fatal(err)
		}
		mp.SweepSharedMemory()
		if !shmExists(t, name) {
			t.Fatal("an attacher's exit removed the block")
		}
	}
	if m.Bytes()[0] != 9 {
		t.Fatal("the attacher's write is not visible")
	}
	m.Close()
	if shmExists(t, name) {
		t.Fatal("block left after the last holder closed it")
	}
}

// shmName returns a name no other test (or engineer) uses, and removes its
// file when the test ends, whatever happened.
func shmName(t *testing.T) string {
	name := "test-" + itoa(os.Getpid()) + "-" + strings.ReplaceAll(t.Name(), "/", "-")
	t.Cleanup(func() { removeBlock(name) })
	return name
}

// The creator crashes (SIGKILL, or exit without Close) while this process
// is attached: the block stays, with its data. Once this process closes
// too, it is gone.
func TestSharedMemoryCreatorCrash(t *testing.T) {
	for _, how := range []string{"SIGKILL", "exit"} {
		t.Run(how, func(t *testing.T) {
			name := shmName(t)
			ready := made(mp.NewEvent())(t)
			exit := made(mp.NewEvent())(t)
			p := start(t, &mp.Process{Target: targets.CreateFillHold, Args: []any{name, ready, exit}})
			waitSet(t, ready)
			m, err := mp.AttachSharedMemory(name)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })
			if how == "SIGKILL" {
				p.Kill()
			} else {
				exit.Set()
			}
			code := joinCode(t, p)
			if (how == "SIGKILL" && code != killCode) || (how == "exit" && code != 3) {
				t.Fatalf("creator exit code %d", code)
			}
			mp.SweepSharedMemory()
			if !shmExists(t, name) {
				t.Fatal("block removed after its creator died while another process holds it")
			}
			m2, err := mp.AttachSharedMemory(name)
			if err != nil {
				t.Fatalf("attach after the creator died: %v", err)
			}
			for i, b := range m2.Bytes() {
				if b != 0xA5 {
					t.Fatalf("byte %d is %#x, want 0xa5", i, b)
				}
			}
			m2.Close()
			m.Close()
			if shmExists(t, name) {
				t.Fatal("block left after the last holder closed it")
			}
		})
	}
}

// An attacher that exits, even cleanly and without Close, never removes the
// block from under its creator (Python's resource tracker does:
// cpython#82300).
func TestSharedMemoryAttacherExit(t *testing.T) {
	name := shmName(t)
	m := made(mp.CreateSharedMemory(name, 1<<16))(t)
	for range 3 {
		if err := join(t, start(t, &mp.Process{Target: targets.AttachAndFill, Args: []any{name, byte(0x5A)}})); err != nil {
			t.Fatal(err)
		}
		mp.SweepSharedMemory()
		if !shmExists(t, name) {
			t.Fatal("an attacher's exit removed the block")
		}
	}
	if m.Bytes()[0] != 0x5A {
		t.Fatal("the attacher's write is not visible")
	}
}

func itoa(i int) string { return string(appendInt(nil, i)) }

func appendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = appendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

// TestCrashedCreatorsBlockIsSwept: a child that creates a named block and
// crashes leaves nothing in the blocks' directory once it is joined (Python's resource
// tracker leaks it when the tracker dies too, and removes blocks others
// still use: cpython#82300). On Windows the kernel frees it with the child.
func TestCrashedCreatorsBlockIsSwept(t *testing.T) {
	name := "crash-" + strconv.Itoa(os.Getpid())
	t.Cleanup(func() { removeBlock(name) })
	p := start(t, &mp.Process{Target: targets.CreateAndCrash, Args: []any{name}})
	var ee *mp.ExitError
	if err := join(t, p); !errors.As(err, &ee) || ee.Code != 3 {
		t.Fatalf("child = %v, want exit code 3", err)
	}
	if shmExists(t, name) {
		t.Fatalf("block %q after its creator crashed: want it gone", name)
	}
}

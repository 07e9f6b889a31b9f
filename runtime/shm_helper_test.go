//go:build linux

package mp

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A test helper process for the shared-memory tests, until the transport
// sends handles as target arguments: the test binary re-executed with
// MPGEN_SHM_HELPER set, the exported descriptors as ExtraFiles from 3 on and
// their metadata in MPGEN_SHM_META. init runs before TestMain (and so
// before the main guard): the helper never reaches the tests.
const (
	helperEnv = "MPGEN_SHM_HELPER"
	metaEnv   = "MPGEN_SHM_META"
	argEnv    = "MPGEN_SHM_ARG"
)

func init() {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(shmHelper(mode))
	}
}

// helperImports decodes the handles the parent exported, in order.
func helperImports(into ...importer) error {
	parts := strings.Split(os.Getenv(metaEnv), ",")
	if len(parts) != len(into) {
		return fmt.Errorf("want %d handles, got %d", len(into), len(parts))
	}
	fd := 3
	for i, p := range parts {
		h, n, ok := strings.Cut(p, ":")
		meta, err := hex.DecodeString(h)
		nf, err2 := strconv.Atoi(n)
		if !ok || err != nil || err2 != nil {
			return fmt.Errorf("bad meta %q", p)
		}
		var files []*os.File
		for range nf {
			syscall.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "handle"))
			fd++
		}
		if err := into[i].mpImport(meta, files); err != nil {
			return err
		}
	}
	return nil
}

func helperArg(i int) int {
	f := strings.Fields(os.Getenv(argEnv))
	n, _ := strconv.Atoi(f[i])
	return n
}

func shmHelper(mode string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "helper:", mode+":", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch mode {
	case "lock-hold": // take the lock, say so, and hold it until stdin ends, then exit 3
		var l Lock
		if err := helperImports(&l); err != nil {
			return fail(err)
		}
		if err := l.AcquireContext(ctx); err != nil {
			return fail(err)
		}
		fmt.Println("held")
		io.Copy(io.Discard, os.Stdin)
		return 3
	case "rlock-hold": // take the RLock twice, say so, hold it until stdin ends, then exit 3
		var l RLock
		if err := helperImports(&l); err != nil {
			return fail(err)
		}
		if err := errors.Join(l.AcquireContext(ctx), l.AcquireContext(ctx)); err != nil {
			return fail(err)
		}
		fmt.Println("held")
		io.Copy(io.Discard, os.Stdin)
		return 3
	case "lock-counter": // arg0 increments of a[0] under the lock
		var l Lock
		var a Array[int64]
		if err := helperImports(&l, &a); err != nil {
			return fail(err)
		}
		s := a.Slice()
		for range helperArg(0) {
			l.Lock()
			v := s[0]
			s[0] = v + 1
			l.Unlock()
		}
		return 0
	case "value-counter": // arg0 increments of a Value under its own lock
		var v Value[point]
		if err := helperImports(&v); err != nil {
			return fail(err)
		}
		p := v.Pointer()
		for range helperArg(0) {
			v.Lock()
			p.X++
			p.Y -= 2
			v.Unlock()
		}
		return 0
	case "barrier": // arg0 = my id, arg1 = rounds; a[id] = round reached; a[4+round*4+id] = arrival index
		var b Barrier
		var a Array[int32]
		if err := helperImports(&b, &a); err != nil {
			return fail(err)
		}
		id, rounds, s := helperArg(0), helperArg(1), a.Slice()
		for r := range rounds {
			s[id] = int32(r + 1)
			idx, err := b.WaitContext(ctx)
			if err != nil {
				return fail(err)
			}
			for j := range b.Parties() {
				if s[j] < int32(r+1) {
					return fail(fmt.Errorf("round %d: process %d passed the barrier before process %d arrived", r, id, j))
				}
			}
			s[4+r*4+id] = int32(idx)
			// A second barrier so nobody starts round r+1 (and writes
			// s[id]) before everyone checked round r.
			if _, err := b.WaitContext(ctx); err != nil {
				return fail(err)
			}
		}
		return 0
	case "array-write": // a[i] = i*1.5
		var a Array[float64]
		if err := helperImports(&a); err != nil {
			return fail(err)
		}
		for i := range a.Slice() {
			a.Slice()[i] = float64(i) * 1.5
		}
		return 0
	case "import": // import one handle of the kind arg0 names and exit
		var err error
		switch os.Getenv(argEnv) {
		case "array-int64":
			err = helperImports(new(Array[int64]))
		case "array-float64":
			err = helperImports(new(Array[float64]))
		case "lock":
			err = helperImports(new(Lock))
		}
		if err != nil {
			return fail(err)
		}
		return 0
	case "event-wait": // wait for the event, then set the second one
		var e, done Event
		if err := helperImports(&e, &done); err != nil {
			return fail(err)
		}
		if err := e.WaitContext(ctx); err != nil {
			return fail(err)
		}
		done.Set()
		return 0
	case "cond-wait": // wait on the condition until a[0] != 0, then a[1] = a[0]+1
		var c Condition
		var a Array[int64]
		if err := helperImports(&c, &a); err != nil {
			return fail(err)
		}
		s := a.Slice()
		c.Lock()
		s[2]++ // one more waiter ready
		if err := c.WaitForContext(ctx, func() bool { return s[0] != 0 }); err != nil {
			return fail(err)
		}
		s[1] += s[0]
		c.Unlock()
		return 0
	case "sem": // take a unit, hold it briefly while counting concurrent holders
		var sem Semaphore
		var a Array[int64]
		var l Lock
		if err := helperImports(&sem, &a, &l); err != nil {
			return fail(err)
		}
		s := a.Slice()
		for range helperArg(0) {
			if err := sem.AcquireContext(ctx); err != nil {
				return fail(err)
			}
			l.Lock()
			s[0]++
			if s[0] > s[1] {
				s[1] = s[0]
			}
			l.Unlock()
			time.Sleep(time.Millisecond)
			l.Lock()
			s[0]--
			l.Unlock()
			if err := sem.Release(); err != nil {
				return fail(err)
			}
		}
		return 0
	case "shm-create": // create block arg, fill it with 0xA5, say "ready", then hold until stdin ends and exit 3
		m, err := CreateSharedMemory(os.Getenv(argEnv), 1<<16)
		if err != nil {
			return fail(err)
		}
		for i := range m.Bytes() {
			m.Bytes()[i] = 0xA5
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		return 3
	case "shm-attach": // attach block arg, check and write byte 0, say "ready", hold until stdin ends, exit 0 without Close
		m, err := AttachSharedMemory(os.Getenv(argEnv))
		if err != nil {
			return fail(err)
		}
		m.Bytes()[0] = 0x5A
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		return 0
	}
	return fail(fmt.Errorf("unknown mode"))
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	errb  *strings.Builder
}

// startHelper starts the test binary as a helper in mode, passing the
// exported handles and arg. t.Cleanup kills and reaps it.
func startHelper(t testing.TB, mode, arg string, handles ...handle) *helper {
	t.Helper()
	var metas []string
	var files []*os.File
	for _, h := range handles {
		meta, fs, err := h.mpExport()
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		metas = append(metas, hex.EncodeToString(meta)+":"+strconv.Itoa(len(fs)))
		files = append(files, fs...)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, metaEnv+"="+strings.Join(metas, ","), argEnv+"="+arg, "GORACE=atexit_sleep_ms=0")
	cmd.ExtraFiles = files
	h := &helper{cmd: cmd, errb: &strings.Builder{}}
	cmd.Stderr = h.errb
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	h.stdin, h.out = stdin, bufio.NewReader(stdout)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return h
}

// expect reads one line from the helper and fails unless it is want.
func (h *helper) expect(t testing.TB, want string) {
	t.Helper()
	line, err := h.out.ReadString('\n')
	if strings.TrimSpace(line) != want {
		t.Fatalf("helper said %q (%v), want %q; stderr: %s", line, err, want, h.errb.String())
	}
}

// wait reaps the helper and returns its exit code (-N for signal N).
func (h *helper) wait(t testing.TB) int {
	t.Helper()
	h.stdin.Close()
	err := h.cmd.Wait()
	code, _ := exitStatus(h.cmd.ProcessState)
	if err != nil && code == 2 {
		t.Logf("helper stderr: %s", h.errb.String())
	}
	return code
}

// mustOK reaps the helper and fails unless it exited 0.
func (h *helper) mustOK(t testing.TB) {
	t.Helper()
	if code := h.wait(t); code != 0 {
		t.Fatalf("helper %v exited %d; stderr: %s", h.cmd.Env[len(h.cmd.Env)-4], code, h.errb.String())
	}
}

type point struct {
	X, Y int64
	Ok   bool
	F    [3]float32
}

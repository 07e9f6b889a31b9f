//go:build linux

package mp

// Child mode must not be enterable by setting an environment variable. These
// tests run this very test binary (whose TestMain calls Guard first, so it
// acts as the child) with the marker set and, on descriptor 3, nothing, a
// file, a pipe, garbage, or a handshake that is wrong in exactly one way,
// always followed by a well-formed call of targets.TouchFile. Each time the
// would-be child must exit with code 2 and a one-line "mpgen: ..." message
// on stderr, and the file the target would create must not exist. A positive
// control (the same harness with a correct handshake) shows that the file
// does appear when the handshake is right, so the refusals are refusals of
// the one thing each case gets wrong.
//
// The internal package is used for its hello and frame encoders; the target
// is found by name in the registry, which the external tests' import of
// internal/targets fills in this same binary.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/israce"
	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

const touchTarget = "github.com/mpgen/mpgen/internal/targets.TouchFile"

// wouldBe is one run of the test binary as a would-be child.
type wouldBe struct {
	cmd    *exec.Cmd
	peer   net.Conn // our end of its descriptor 3, when it is a socket
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan error
}

// startWouldBe starts this test binary with MPGEN_CHILD=marker and files as
// its descriptors 3, 4, ... If the guard wrongly returned instead of
// exiting, -test.run=^$ makes the binary run no test and exit 0, which the
// tests tell from the guard's exit code 2.
func startWouldBe(t *testing.T, marker string, extraEnv []string, files ...*os.File) *wouldBe {
	t.Helper()
	w := &wouldBe{done: make(chan error, 1)}
	env := append([]string{envMarker + "=" + marker}, extraEnv...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envMarker+"=") {
			env = append(env, kv)
		}
	}
	if _, set := os.LookupEnv("GORACE"); israce.Enabled && !set {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	w.cmd = &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{os.Args[0], "-test.run=^$"},
		Env:        env,
		Stdout:     &w.stdout,
		Stderr:     &w.stderr,
		ExtraFiles: files,
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.done <- w.cmd.Wait() }()
	t.Cleanup(func() {
		_ = w.cmd.Process.Kill()
		<-w.done
		if w.peer != nil {
			w.peer.Close()
		}
	})
	return w
}

// wait waits (boundedly) for the would-be child to exit and returns its
// exit code.
func (w *wouldBe) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-w.done:
		w.done <- nil // for the cleanup
	case <-time.After(limit):
		t.Fatalf("would-be child still running after %v; stderr so far: %q", limit, w.stderr.String())
	}
	return w.cmd.ProcessState.ExitCode()
}

// socketPair returns our end as a net.Conn and the other end as a file to
// hand to a child.
func socketPair(t *testing.T) (net.Conn, *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours := os.NewFile(uintptr(fds[0]), "test-end")
	conn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		t.Fatal(err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "child-end")
	t.Cleanup(func() { conn.Close(); theirs.Close() })
	return conn, theirs
}

// launchWithSocket starts a would-be child with a socket on descriptor
// fdNum (3 or 4) and returns it with our end in w.peer.
func launchWithSocket(t *testing.T, marker string, fdNum int) *wouldBe {
	t.Helper()
	conn, theirs := socketPair(t)
	files := []*os.File{theirs}
	if fdNum == 4 {
		files = []*os.File{nil, theirs} // nil: descriptor 3 is closed
	}
	w := startWouldBe(t, marker, nil, files...)
	theirs.Close()
	w.peer = conn
	return w
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// helloFor is a well-formed hello for a child of this process.
func helloFor(childPid int, key []byte) *wire.Hello {
	return &wire.Hello{
		Nonce:      bytes.Repeat([]byte{0x6e}, 16),
		ParentPid:  os.Getpid(),
		ChildPid:   childPid,
		Authkey:    key,
		Ident:      []int{7},
		Name:       "Forged-7",
		ParentName: "SecurityTest",
		MaxFrame:   1 << 20,
	}
}

// touchCall is a call frame that makes the child create path.
func touchCall(t *testing.T, path string) []byte {
	t.Helper()
	if registry.ByName(touchTarget) == nil {
		t.Fatalf("%s is not registered in the test binary", touchTarget)
	}
	data, err := Gob.Marshal(path)
	if err != nil {
		t.Fatal(err)
	}
	call := &wire.Call{Target: touchTarget, Codec: "gob", Args: []wire.Value{{Present: true, Data: data}}}
	return wire.AppendFrame(nil, wire.KindCall, 1, call.Encode())
}

// resign replaces the MAC at the end of an encoded hello with one computed
// under key over the signed bytes.
func resign(t *testing.T, body []byte, key []byte) []byte {
	t.Helper()
	signed := body[:len(body)-1-sha256.Size] // uvarint(32) + 32 bytes of MAC
	if body[len(signed)] != sha256.Size {
		t.Fatalf("unexpected hello layout")
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(signed)
	out := append([]byte(nil), signed...)
	return append(append(out, sha256.Size), mac.Sum(nil)...)
}

// expectRefusal checks that a would-be child exited with code 2, printed a
// single "mpgen: " line containing want on stderr, ran no test, and did not
// create touched.
func expectRefusal(t *testing.T, w *wouldBe, want, touched string) {
	t.Helper()
	code := w.wait(t, 60*time.Second)
	stderr, stdout := w.stderr.String(), w.stdout.String()
	if code != 2 {
		t.Errorf("exit code %d, want 2\nstderr: %q\nstdout: %q", code, stderr, stdout)
	}
	if !strings.HasPrefix(stderr, "mpgen: ") || strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr is not one line starting with \"mpgen: \": %q", stderr)
	}
	if !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not say %q", stderr, want)
	}
	if stdout != "" {
		t.Errorf("stdout %q: the program went on running after the guard", stdout)
	}
	if touched != "" {
		if _, err := os.Stat(touched); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the target ran: %s exists (stat: %v)", touched, err)
		}
	}
}

// TestGuardPositiveControl shows that the harness of the refusal tests
// works: with a correct handshake on descriptor 3 the very same call runs
// the target, which creates its file, and the result comes back. The key is
// one this test made up: the hello carries the key its own MAC is checked
// with, so the MAC shows integrity, not that the sender knows a secret; what
// keeps a stranger out is that the handshake must name the child's and the
// parent's pids and arrive on a socket at descriptor 3.
func TestGuardPositiveControl(t *testing.T) {
	path := filepath.Join(t.TempDir(), "touched")
	w := launchWithSocket(t, "fd=3", 3)
	h := helloFor(w.cmd.Process.Pid, testKey(0x5a))
	msg := wire.AppendFrame(nil, wire.KindHello, 0, h.Encode())
	if _, err := w.peer.Write(append(msg, touchCall(t, path)...)); err != nil {
		t.Fatal(err)
	}
	_ = w.peer.SetReadDeadline(time.Now().Add(60 * time.Second))
	f, err := wire.ReadFrame(w.peer, 1<<20)
	if err != nil {
		t.Fatalf("no outcome from the child: %v; stderr %q", err, w.stderr.String())
	}
	if f.Kind != wire.KindResult || f.ID != 1 {
		t.Fatalf("outcome frame %v id %d, want result id 1; stderr %q", f.Kind, f.ID, w.stderr.String())
	}
	if code := w.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("exit code %d, stderr %q", code, w.stderr.String())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the target did not run: %v", err)
	}
	if got := strings.TrimSpace(string(data)); got != fmt.Sprint(w.cmd.Process.Pid) {
		t.Fatalf("file written by pid %s, child is %d", got, w.cmd.Process.Pid)
	}
}

// (a) and (b): descriptor 3 missing, or not a socket.
func TestGuardRefusesWithoutControlSocket(t *testing.T) {
	// Precondition for "no descriptor 3": this process's descriptor 3, if
	// any, is close-on-exec (the Go runtime keeps cgroup files open), so
	// the child does not inherit it.
	if info, err := os.ReadFile("/proc/self/fdinfo/3"); err == nil && !strings.Contains(fdinfoFlags(string(info)), "cloexec") {
		t.Skipf("this test process inherited a descriptor 3 without close-on-exec; cannot test a child without one")
	}
	t.Run("no descriptor 3", func(t *testing.T) {
		w := startWouldBe(t, "fd=3", nil)
		// The child's own runtime may have opened a file (its cgroup CPU
		// limit) at descriptor 3 before the guard runs, so the reason
		// is "bad file descriptor" or "not a socket".
		expectRefusal(t, w, "descriptor 3 is not an mpgen control channel (", "")
	})

	dir := t.TempDir()
	touched := filepath.Join(dir, "touched")
	// A handshake as good as one can be made before the child's pid is
	// known, then the call: in a file or a pipe, none of it may be read.
	payload := append(wire.AppendFrame(nil, wire.KindHello, 0, helloFor(0, testKey(1)).Encode()), touchCall(t, touched)...)

	t.Run("regular file", func(t *testing.T) {
		path := filepath.Join(dir, "frames")
		if err := os.WriteFile(path, payload, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w := startWouldBe(t, "fd=3", nil, f)
		expectRefusal(t, w, "descriptor 3 is not an mpgen control channel (not a socket)", touched)
	})
	t.Run("pipe", func(t *testing.T) {
		r, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := pw.Write(payload); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		w := startWouldBe(t, "fd=3", nil, r)
		expectRefusal(t, w, "not a socket", touched)
	})
	t.Run("/dev/null", func(t *testing.T) {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w := startWouldBe(t, "fd=3", nil, f)
		expectRefusal(t, w, "not a socket", touched)
	})
}

// fdinfoFlags returns "cloexec" when an fdinfo text has O_CLOEXEC set.
func fdinfoFlags(info string) string {
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "flags:"); ok {
			var flags uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%o", &flags); err == nil && flags&syscall.O_CLOEXEC != 0 {
				return "cloexec"
			}
		}
	}
	return ""
}

// (c): a socket on descriptor 3 whose peer does not speak mpgen.
func TestGuardRefusesGarbageOnSocket(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] = 0x7f // a length far over the handshake's 64 KiB limit

	for _, tc := range []struct {
		name  string
		send  func(t *testing.T, childPid int, touched string) []byte
		close bool // close our end after sending
		want  string
	}{
		{"nothing then EOF", func(*testing.T, int, string) []byte { return nil }, true,
			"no valid handshake from the parent on descriptor 3 (EOF)"},
		{"HTTP request", func(*testing.T, int, string) []byte {
			return []byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
		}, false, "frame too large"},
		{"random bytes", func(*testing.T, int, string) []byte { return random }, false, "frame too large"},
		{"half a header then EOF", func(*testing.T, int, string) []byte { return []byte{0, 0, 0} }, true,
			"truncated frame header"},
		{"length shorter than a header", func(*testing.T, int, string) []byte {
			return []byte{0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0}
		}, false, "frame length 4 is shorter than its header"},
		{"truncated hello then EOF", func(t *testing.T, pid int, touched string) []byte {
			return wire.AppendFrame(nil, wire.KindHello, 0, helloFor(pid, testKey(1)).Encode())[:40]
		}, true, "truncated hello frame"},
		{"a call instead of a hello", func(t *testing.T, pid int, touched string) []byte {
			return touchCall(t, touched)
		}, false, "unexpected call frame"},
		{"a result instead of a hello", func(t *testing.T, pid int, touched string) []byte {
			return append(wire.AppendFrame(nil, wire.KindResult, 0, wire.EncodeResult(wire.Value{})), touchCall(t, touched)...)
		}, false, "unexpected result frame"},
		{"hello frame with a foreign body", func(t *testing.T, pid int, touched string) []byte {
			return append(wire.AppendFrame(nil, wire.KindHello, 0, []byte("\x0bmpgen-hellX\x01")), touchCall(t, touched)...)
		}, false, "bad handshake: not an mpgen hello"},
		{"hello frame with an empty body", func(t *testing.T, pid int, touched string) []byte {
			return append(wire.AppendFrame(nil, wire.KindHello, 0, nil), touchCall(t, touched)...)
		}, false, "bad handshake"},
		{"hello over the handshake size limit", func(t *testing.T, pid int, touched string) []byte {
			h := helloFor(pid, testKey(1))
			h.Name = strings.Repeat("n", 64<<10)
			return append(wire.AppendFrame(nil, wire.KindHello, 0, h.Encode()), touchCall(t, touched)...)
		}, false, "frame too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			touched := filepath.Join(t.TempDir(), "touched")
			w := launchWithSocket(t, "fd=3", 3)
			if b := tc.send(t, w.cmd.Process.Pid, touched); len(b) > 0 {
				_, _ = w.peer.Write(b) // the child may refuse before reading it all
			}
			if tc.close {
				w.peer.(*net.UnixConn).CloseWrite()
			}
			expectRefusal(t, w, tc.want, touched)
		})
	}
}

// A peer that says nothing, or starts a frame and stalls, is given up on
// after the handshake timeout (30 s), never waited for forever.
func TestGuardGivesUpOnSilentPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 30 s handshake timeout")
	}
	t.Parallel()
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"silent", nil},
		{"stalled frame", []byte{0, 0, 0, 100, byte(wire.KindHello), 0, 0, 0, 0, 0, 0, 0, 0, 'm', 'p'}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := launchWithSocket(t, "fd=3", 3)
			_, _ = w.peer.Write(tc.send)
			t0 := time.Now()
			code := w.wait(t, handshakeTimeout+60*time.Second)
			if code != 2 || !strings.Contains(w.stderr.String(), "i/o timeout") {
				t.Fatalf("exit code %d stderr %q, want 2 and an i/o timeout", code, w.stderr.String())
			}
			if d := time.Since(t0); d < handshakeTimeout-5*time.Second {
				t.Fatalf("gave up after %v, before the %v handshake timeout", d, handshakeTimeout)
			}
		})
	}
}

// (d) and (e): a handshake that is well formed but wrong in one way, followed
// by a valid call: replayed from another child, for another parent, with a
// bad MAC, an unknown protocol version, a short key or nonce.
func TestGuardRefusesBadHandshake(t *testing.T) {
	// A genuine exchange with one child, recorded.
	recordedPath := filepath.Join(t.TempDir(), "recorded")
	first := launchWithSocket(t, "fd=3", 3)
	recorded := append(wire.AppendFrame(nil, wire.KindHello, 0, helloFor(first.cmd.Process.Pid, testKey(2)).Encode()), touchCall(t, recordedPath)...)
	if _, err := first.peer.Write(recorded); err != nil {
		t.Fatal(err)
	}
	_ = first.peer.SetReadDeadline(time.Now().Add(60 * time.Second))
	if f, err := wire.ReadFrame(first.peer, 1<<20); err != nil || f.Kind != wire.KindResult {
		t.Fatalf("recorded exchange failed: %v %v; stderr %q", f.Kind, err, first.stderr.String())
	}
	if code := first.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("recorded exchange: exit code %d", code)
	}
	if err := os.Remove(recordedPath); err != nil {
		t.Fatalf("recorded exchange did not run its target: %v", err)
	}

	for _, tc := range []struct {
		name string
		body func(t *testing.T, childPid int) []byte // the hello body
		raw  bool                                    // body returns the whole stream, not a hello body
		want string
	}{
		{"replayed from another child", func(*testing.T, int) []byte { return recorded }, true,
			fmt.Sprintf("handshake is for process %d (parent %d)", first.cmd.Process.Pid, os.Getpid())},
		{"wrong child pid", func(t *testing.T, pid int) []byte {
			return helloFor(pid+1, testKey(2)).Encode()
		}, false, "not this one ("},
		{"wrong parent pid", func(t *testing.T, pid int) []byte {
			h := helloFor(pid, testKey(2))
			h.ParentPid = 1
			return h.Encode()
		}, false, "(parent 1), not this one"},
		{"MAC with one bit flipped", func(t *testing.T, pid int) []byte {
			b := helloFor(pid, testKey(2)).Encode()
			b[len(b)-1] ^= 1
			return b
		}, false, "bad handshake: MAC does not match"},
		{"MAC under another key", func(t *testing.T, pid int) []byte {
			return resign(t, helloFor(pid, testKey(2)).Encode(), testKey(3))
		}, false, "bad handshake: MAC does not match"},
		{"signed field changed after signing", func(t *testing.T, pid int) []byte {
			h := helloFor(pid, testKey(2))
			b := h.Encode()
			i := bytes.Index(b, []byte("Forged-7"))
			b[i+len("Forged-")] = '8'
			return b
		}, false, "bad handshake: MAC does not match"},
		{"MAC cut short", func(t *testing.T, pid int) []byte {
			b := helloFor(pid, testKey(2)).Encode()
			return b[:len(b)-1]
		}, false, "bad handshake: input ends early"},
		{"no MAC", func(t *testing.T, pid int) []byte {
			b := helloFor(pid, testKey(2)).Encode()
			return b[:len(b)-1-sha256.Size]
		}, false, "bad handshake: input ends early"},
		{"empty MAC", func(t *testing.T, pid int) []byte {
			b := helloFor(pid, testKey(2)).Encode()
			return append(b[:len(b)-1-sha256.Size], 0)
		}, false, "bad handshake: MAC does not match"},
		{"trailing bytes after the MAC", func(t *testing.T, pid int) []byte {
			return append(helloFor(pid, testKey(2)).Encode(), 0)
		}, false, "bad handshake: 1 unexpected bytes"},
		{"protocol version 2", func(t *testing.T, pid int) []byte {
			b := helloFor(pid, testKey(2)).Encode()
			i := 1 + len(wire.HelloMagic) // the version follows the magic string
			if b[i] != wire.ProtocolVersion {
				t.Fatalf("unexpected hello layout")
			}
			b[i] = wire.ProtocolVersion + 1
			return resign(t, b, testKey(2))
		}, false, "bad handshake: protocol version 2, this binary speaks 1"},
		{"authkey of 15 bytes", func(t *testing.T, pid int) []byte {
			return helloFor(pid, bytes.Repeat([]byte{4}, 15)).Encode()
		}, false, "bad handshake: nonce or authkey too short"},
		{"empty authkey", func(t *testing.T, pid int) []byte {
			return helloFor(pid, nil).Encode()
		}, false, "bad handshake: nonce or authkey too short"},
		{"nonce of 15 bytes", func(t *testing.T, pid int) []byte {
			h := helloFor(pid, testKey(2))
			h.Nonce = h.Nonce[:15]
			return h.Encode()
		}, false, "bad handshake: nonce or authkey too short"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			touched := filepath.Join(t.TempDir(), "touched")
			w := launchWithSocket(t, "fd=3", 3)
			var stream []byte
			if tc.raw {
				stream = tc.body(t, w.cmd.Process.Pid)
				touched = recordedPath
			} else {
				stream = append(wire.AppendFrame(nil, wire.KindHello, 0, tc.body(t, w.cmd.Process.Pid)), touchCall(t, touched)...)
			}
			_, _ = w.peer.Write(stream)
			expectRefusal(t, w, tc.want, touched)
		})
	}

	// A correct handshake followed by a call that does not parse.
	t.Run("garbled call after a good hello", func(t *testing.T) {
		w := launchWithSocket(t, "fd=3", 3)
		stream := wire.AppendFrame(nil, wire.KindHello, 0, helloFor(w.cmd.Process.Pid, testKey(2)).Encode())
		stream = wire.AppendFrame(stream, wire.KindCall, 1, []byte("\x7fnot a call"))
		_, _ = w.peer.Write(stream)
		expectRefusal(t, w, "call frame: input ends early", "")
	})
}

// (f): a marker whose value is not exactly "fd=3" is refused even when a
// correct handshake and call wait on descriptor 3 (or on the descriptor the
// marker names).
func TestGuardRefusesBadMarker(t *testing.T) {
	for _, tc := range []struct {
		marker string
		fd     int
	}{
		{"", 3}, {"3", 3}, {"fd=", 3}, {"fd=x", 3}, {"fd=3x", 3}, {"fd= 3", 3}, {"fd=3 ", 3},
		{"FD=3", 3}, {"fd=-1", 3}, {"fd=0", 3}, {"fd=4", 3}, {"fd=4", 4}, {"fd:3", 3},
		{"fd=99999999999999999999", 3},
	} {
		t.Run(fmt.Sprintf("%q on fd %d", tc.marker, tc.fd), func(t *testing.T) {
			touched := filepath.Join(t.TempDir(), "touched")
			w := launchWithSocket(t, tc.marker, tc.fd)
			stream := append(wire.AppendFrame(nil, wire.KindHello, 0, helloFor(w.cmd.Process.Pid, testKey(2)).Encode()), touchCall(t, touched)...)
			_, _ = w.peer.Write(stream)
			expectRefusal(t, w, fmt.Sprintf("%s=%q is not a valid child marker", envMarker, tc.marker), touched)
		})
	}
}

package proc

import (
	"bytes"
	"strings"
	"sync"
)

// Bounds of the stderr tail a parent keeps of each child.
const (
	// TailLines is how many of the last lines Tail returns, at most.
	TailLines = 16
	// TailBytes is how many of the last bytes Tail returns, at most.
	TailBytes = 4 << 10
	// crashLineMax bounds the crash line kept beside the tail.
	crashLineMax = 512
)

// tail keeps the last TailBytes bytes a child wrote to stderr in a ring,
// and the last line that begins the way a crash report does (isCrashLine),
// which a long stack dump after it pushes out of the ring: the crash line
// is what says why the child died.
type tail struct {
	mu    sync.Mutex
	ring  [TailBytes]byte
	n     int64  // bytes written in all
	line  []byte // the current line's first crashLineMax bytes
	crash string // the last crash line seen
}

// Write keeps p; it never fails.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	skip := max(0, len(p)-TailBytes) // bytes the ring would overwrite at once
	q := p[skip:]
	k := copy(t.ring[(t.n+int64(skip))%TailBytes:], q)
	copy(t.ring[:], q[k:])
	t.n += int64(len(p))
	for rest := p; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if room := crashLineMax - len(t.line); room > 0 {
			t.line = append(t.line, seg[:min(room, len(seg))]...)
		}
		if i < 0 {
			break
		}
		t.endLine()
		rest = rest[i+1:]
	}
	return len(p), nil
}

// endLine records the current line as the crash line when it is one.
func (t *tail) endLine() {
	if isCrashLine(t.line) {
		t.crash = string(bytes.TrimRight(t.line, "\r"))
	}
	t.line = t.line[:0]
}

// isCrashLine reports whether l begins a crash report: the Go runtime's
// ("fatal error: ", "panic: "), its C side's ("runtime/cgo: ", as when a
// thread cannot start under a memory limit), the race detector's, or the
// report of a signal the Go runtime took in its own code.
func isCrashLine(l []byte) bool {
	return bytes.HasPrefix(l, []byte("fatal error: ")) || bytes.HasPrefix(l, []byte("panic: ")) ||
		bytes.HasPrefix(l, []byte("runtime/cgo: ")) || bytes.Contains(l, []byte("ERROR: ThreadSanitizer")) ||
		isSignalReport(l)
}

// isSignalReport reports whether l is the first line of the Go runtime's
// report of a signal it could not turn into a panic, such as
// "SIGSEGV: segmentation violation".
func isSignalReport(l []byte) bool {
	name, _, ok := bytes.Cut(l, []byte(": "))
	if !ok || len(name) < 5 || len(name) > 10 || !bytes.HasPrefix(name, []byte("SIG")) {
		return false
	}
	for _, c := range name[3:] {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// String returns the last TailLines lines of at most TailBytes bytes in
// all (a line cut by the ring's start is dropped), without the final
// newline. When a crash line was seen but is no longer among them, it
// comes first, followed by a line "[...]".
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	size := min(t.n, TailBytes)
	buf := make([]byte, 0, size)
	start := t.n - size
	for i := start; i < t.n; i++ {
		buf = append(buf, t.ring[i%TailBytes])
	}
	if t.n > TailBytes { // the ring's first line is cut
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			buf = buf[i+1:]
		} else {
			buf = buf[:0]
		}
	}
	s := strings.TrimRight(string(buf), "\n")
	if lines := strings.Split(s, "\n"); len(lines) > TailLines {
		s = strings.Join(lines[len(lines)-TailLines:], "\n")
	}
	crash := t.crash
	if crash == "" && isCrashLine(t.line) { // unterminated at the end
		crash = string(t.line)
	}
	if crash != "" && !strings.Contains(s, crash) {
		s = crash + "\n[...]\n" + s
	}
	return s
}

// Crash returns the last line that began "fatal error: " or "panic: ",
// or "".
func (t *tail) Crash() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.crash == "" && isCrashLine(t.line) {
		return string(t.line)
	}
	return t.crash
}

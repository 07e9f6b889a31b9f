//go:build unix

package fdio

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests here share a Sock's ends among real processes (this test
// binary, started again with FDIO_HELPER set), as Pipe and Queue do: many
// writers on one end, many readers on the other.

// TestHelperProcess is not a test: it is the body of the processes the
// tests below start.
func TestHelperProcess(t *testing.T) {
	role := os.Getenv("FDIO_HELPER")
	if role == "" {
		t.Skip("the body of helper processes")
	}
	os.Exit(runHelper(role))
}

// helper is a started helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // its standard output, a line at a time; closed at its end
}

// startHelper starts a helper process with role and env, hands it the end
// s over a stream socket (as the runtime hands handles to children), and
// reads its output.
func startHelper(t *testing.T, s *Sock, role string, env ...string) *helper {
	t.Helper()
	ctl, child := streamPair(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), append([]string{"FDIO_HELPER=" + role}, env...)...)
	if _, set := os.LookupEnv("GORACE"); !set {
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0") // no second's wait at each exit under -race
	}
	cmd.ExtraFiles = []*os.File{child}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	h := &helper{cmd: cmd, stdin: stdin, lines: make(chan string, 1<<16)}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	if _, err := NewRightsWriter(ctl, []*os.File{s.File()}).Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	ctl.Close()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	return h
}

// wait waits for the helper's output to end and the helper to exit, and
// returns its output and how it ended.
func (h *helper) wait() ([]string, error) {
	var out []string
	for l := range h.lines {
		out = append(out, l)
	}
	return out, h.cmd.Wait()
}

// runHelper is a helper process's body: it gets its end from descriptor 3.
func runHelper(role string) int {
	rd := NewReader(os.NewFile(3, "control"))
	if _, err := rd.Read(make([]byte, 1)); err != nil {
		fmt.Println("error:", err)
		return 2
	}
	files, err := rd.Take(1)
	if err != nil {
		fmt.Println("error:", err)
		return 2
	}
	s := NewSock(files[0])
	switch role {
	case "writer":
		return runWriter(s)
	case "reader":
		return runReader(s)
	}
	fmt.Println("error: no role", role)
	return 2
}

// runWriter sends FDIO_COUNT test messages as writer FDIO_ID (-1: until it
// is killed), after its standard input ends if FDIO_WAIT is "stdin". It
// prints "sent SEQ" after each.
func runWriter(s *Sock) int {
	id, _ := strconv.Atoi(os.Getenv("FDIO_ID"))
	count, _ := strconv.Atoi(os.Getenv("FDIO_COUNT"))
	if os.Getenv("FDIO_WAIT") == "stdin" {
		io.Copy(io.Discard, os.Stdin)
	}
	for seq := 0; count < 0 || seq < count; seq++ {
		msg, files, err := testMessage(id, seq)
		if err == nil {
			err = s.Send(context.Background(), msg, files)
			closeFiles(files)
		}
		if err != nil {
			fmt.Println("error:", err)
			return 3
		}
		fmt.Println("sent", seq)
	}
	return 0
}

// runReader receives test messages until the end, checks each and prints
// "got ID SEQ" for it, then "eof".
func runReader(s *Sock) int {
	for {
		buf, n, files, err := s.Recv(context.Background())
		if err == io.EOF {
			fmt.Println("eof")
			return 0
		}
		if err != nil {
			fmt.Println("error:", err)
			return 3
		}
		id, seq, err := checkMessage((*buf)[:n], files)
		PutBuf(buf)
		closeFiles(files)
		if err != nil {
			fmt.Println("bad:", err)
			return 1
		}
		fmt.Println("got", id, seq)
	}
}

// testSizes are the lengths of test messages, in turn: short ones, the
// longest a record carries itself and one byte more (spilled on the
// portable build), and longer ones up to MaxMsg.
var testSizes = []int{12, 100, 1000, MaxInline, min(MaxInline+1, MaxMsg), 20000, MaxMsg}

// testMessage is message seq of writer id: its id, seq and length, then a
// pattern of both. Every fifth carries a file that names it.
func testMessage(id, seq int) ([]byte, []*os.File, error) {
	msg := make([]byte, testSizes[seq%len(testSizes)])
	binary.LittleEndian.PutUint16(msg, uint16(id))
	binary.LittleEndian.PutUint32(msg[2:], uint32(seq))
	binary.LittleEndian.PutUint32(msg[6:], uint32(len(msg)))
	for i := 10; i < len(msg); i++ {
		msg[i] = byte(i*31 + seq*7 + id)
	}
	if seq%5 != 0 {
		return msg, nil, nil
	}
	f, err := Spill(fmt.Appendf(nil, "%d/%d", id, seq))
	if err != nil {
		return nil, nil, err
	}
	return msg, []*os.File{f}, nil
}

// checkMessage checks a received test message and returns its writer and
// sequence number.
func checkMessage(msg []byte, files []*os.File) (id, seq int, err error) {
	if len(msg) < 10 {
		return 0, 0, fmt.Errorf("a %d-byte message", len(msg))
	}
	id, seq = int(binary.LittleEndian.Uint16(msg)), int(binary.LittleEndian.Uint32(msg[2:]))
	if size := int(binary.LittleEndian.Uint32(msg[6:])); size != len(msg) || size != testSizes[seq%len(testSizes)] {
		return 0, 0, fmt.Errorf("message %d/%d: %d bytes, says %d", id, seq, len(msg), size)
	}
	for i := 10; i < len(msg); i++ {
		if msg[i] != byte(i*31+seq*7+id) {
			return 0, 0, fmt.Errorf("message %d/%d: byte %d differs", id, seq, i)
		}
	}
	want := 0
	if seq%5 == 0 {
		want = 1
	}
	if len(files) != want {
		return 0, 0, fmt.Errorf("message %d/%d came with %d files, want %d", id, seq, len(files), want)
	}
	if want == 1 {
		name := make([]byte, 32)
		n, err := files[0].ReadAt(name, 0)
		if err != nil && err != io.EOF {
			return 0, 0, err
		}
		if got := string(name[:n]); got != fmt.Sprintf("%d/%d", id, seq) {
			return 0, 0, fmt.Errorf("message %d/%d came with the file of %s", id, seq, got)
		}
	}
	return id, seq, nil
}

// tally counts the messages the readers got, by writer and sequence
// number; any line but "got ID SEQ" and a final "eof" fails t.
func tally(t *testing.T, outs [][]string, errs []error) map[[2]int]int {
	t.Helper()
	got := map[[2]int]int{}
	for r, out := range outs {
		for i, l := range out {
			var id, seq int
			if _, err := fmt.Sscanf(l, "got %d %d", &id, &seq); err == nil {
				got[[2]int{id, seq}]++
			} else if l != "eof" || i != len(out)-1 {
				t.Errorf("reader %d: %q", r, l)
			}
		}
		if errs[r] != nil {
			t.Errorf("reader %d: %v", r, errs[r])
		}
	}
	return got
}

// Writers in several processes send on one end and readers in several
// processes receive on the other: each message arrives whole, with its own
// descriptor, at exactly one reader, and every reader sees the end once
// the last writer has exited.
func TestSockManyProcesses(t *testing.T) {
	const writers, readers, count = 3, 3, 300
	a, b := pair(t)
	var ws, rs []*helper
	for w := range writers {
		ws = append(ws, startHelper(t, a, "writer", fmt.Sprint("FDIO_ID=", w), fmt.Sprint("FDIO_COUNT=", count)))
	}
	for range readers {
		rs = append(rs, startHelper(t, b, "reader"))
	}
	a.Close() // the end comes when the writers exit
	b.Close()
	for w, h := range ws {
		out, err := h.wait()
		if err != nil || len(out) != count {
			t.Fatalf("writer %d: %d lines, %v: %q", w, len(out), err, out[max(len(out)-1, 0):])
		}
	}
	outs, errs := make([][]string, readers), make([]error, readers)
	for r, h := range rs {
		outs[r], errs[r] = h.wait()
		if len(outs[r]) == 0 || outs[r][len(outs[r])-1] != "eof" {
			t.Errorf("reader %d did not see the end", r)
		}
	}
	got := tally(t, outs, errs)
	for w := range writers {
		for seq := range count {
			if n := got[[2]int{w, seq}]; n != 1 {
				t.Errorf("message %d/%d arrived %d times", w, seq, n)
			}
		}
	}
	if len(got) != writers*count {
		t.Errorf("%d distinct messages arrived, want %d", len(got), writers*count)
	}
}

// A writer and a reader killed while the others go on: the writer leaves
// no part of a message behind (what arrived of it is its first messages,
// whole), the reader takes at most the message it was receiving with it,
// and everything else arrives once, whole.
func TestSockKilledProcesses(t *testing.T) {
	const writers, readers, count = 3, 3, 300
	a, b := pair(t)
	var ws, rs []*helper
	for w := range writers {
		n := count
		if w == 0 {
			n = -1 // until killed
		}
		ws = append(ws, startHelper(t, a, "writer", fmt.Sprint("FDIO_ID=", w), fmt.Sprint("FDIO_COUNT=", n)))
	}
	for range readers {
		rs = append(rs, startHelper(t, b, "reader"))
	}
	a.Close()
	b.Close()

	// Kill writer 0 once it has sent 100 messages, and reader 0 once it
	// has got 50, each in the middle of its stream.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var sent []string
	outs, errs := make([][]string, readers), make([]error, readers)
	killAfter := func(h *helper, n int, keep *[]string) {
		defer wg.Done()
		for l := range h.lines {
			mu.Lock()
			*keep = append(*keep, l)
			mu.Unlock()
			if n--; n == 0 {
				h.cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		h.cmd.Wait()
	}
	wg.Add(2)
	go killAfter(ws[0], 100, &sent)
	go killAfter(rs[0], 50, &outs[0])
	for w := 1; w < writers; w++ {
		if out, err := ws[w].wait(); err != nil || len(out) != count {
			t.Fatalf("writer %d: %d lines, %v", w, len(out), err)
		}
	}
	for r := 1; r < readers; r++ {
		outs[r], errs[r] = rs[r].wait()
	}
	wg.Wait()
	if len(sent) < 100 {
		t.Fatalf("writer 0 sent %d messages before it was killed", len(sent))
	}
	for r := 1; r < readers; r++ {
		if len(outs[r]) == 0 || outs[r][len(outs[r])-1] != "eof" {
			t.Errorf("reader %d did not see the end", r)
		}
	}
	if n := len(outs[0]); n < 50 || outs[0][n-1] == "eof" {
		t.Errorf("reader 0 got %d messages and the end before it was killed", n)
	}
	got := tally(t, outs, errs[:])
	missing := 0
	for w := range writers {
		last := count - 1
		if w == 0 { // its messages must be a run from the first: find its end
			last = -1
			for got[[2]int{0, last + 1}] > 0 || got[[2]int{0, last + 2}] > 0 {
				last++
			}
		}
		for seq := 0; seq <= last; seq++ {
			switch n := got[[2]int{w, seq}]; n {
			case 1:
			case 0:
				missing++
			default:
				t.Errorf("message %d/%d arrived %d times", w, seq, n)
			}
		}
		for k := range got {
			if k[0] == w && k[1] > last {
				t.Errorf("message %d/%d arrived after a gap", w, k[1])
			}
		}
	}
	if missing > 1 {
		t.Errorf("%d messages were lost; only the one the killed reader was taking may be", missing)
	}
}

// The end of the stream comes when the last process that holds the
// sending end has closed it, not the first.
func TestSockEndAfterLastWriter(t *testing.T) {
	a, b := pair(t)
	first := startHelper(t, a, "writer", "FDIO_ID=1", "FDIO_COUNT=1")
	last := startHelper(t, a, "writer", "FDIO_ID=2", "FDIO_COUNT=1", "FDIO_WAIT=stdin")
	a.Close()
	if out, err := first.wait(); err != nil || len(out) != 1 {
		t.Fatalf("first writer: %q, %v", out, err)
	}
	recvID := func() int {
		t.Helper()
		buf, n, files, err := b.Recv(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer PutBuf(buf)
		defer closeFiles(files)
		id, _, err := checkMessage((*buf)[:n], files)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	if id := recvID(); id != 1 {
		t.Fatalf("first message from writer %d", id)
	}
	// The first writer has exited: its end is closed, the other's is not.
	if ok, err := b.Readable(context.Background(), 50*time.Millisecond); ok || err != nil {
		t.Fatalf("Readable with a writer left that sent nothing: %v, %v", ok, err)
	}
	last.stdin.Close()
	if id := recvID(); id != 2 {
		t.Fatalf("second message from writer %d", id)
	}
	if out, err := last.wait(); err != nil || len(out) != 1 {
		t.Fatalf("last writer: %q, %v", out, err)
	}
	if _, _, _, err := b.Recv(context.Background()); err != io.EOF {
		t.Fatalf("Recv after the last writer exited: %v, want io.EOF", err)
	}
}

// ShutdownSend in one process ends the stream for all: the readers see
// the end although another process still holds the sending end, and that
// process's sends fail (as Queue.Shutdown needs).
func TestSockShutdownAcrossProcesses(t *testing.T) {
	a, b := pair(t)
	w := startHelper(t, a, "writer", "FDIO_ID=1", "FDIO_COUNT=1", "FDIO_WAIT=stdin")
	if err := a.ShutdownSend(); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := b.Recv(context.Background()); err != io.EOF {
		t.Fatalf("Recv after ShutdownSend: %v, want io.EOF", err)
	}
	w.stdin.Close()
	out, err := w.wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || len(out) != 1 || !strings.Contains(out[0], syscall.EPIPE.Error()) {
		t.Fatalf("a send after ShutdownSend: %q, %v; want it to fail with EPIPE", out, err)
	}
}

package targets

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The targets in this file serve the runtime's reliability and security
// tests: they inspect what a child inherited, flood its output, or break
// its control channel on purpose.

// TouchFile creates path, which must not exist, and writes the child's pid
// into it. The security tests use it as the target a forged or replayed
// handshake asks for: the file's absence proves the target never ran.
//
//mp:target
func TouchFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "%d\n", os.Getpid()); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// FD describes one open descriptor of a process.
type FD struct {
	Num     int
	Link    string // what /proc/self/fd/<Num> points to
	CloExec bool   // close-on-exec is set (from /proc/self/fdinfo)
}

// FDs lists the descriptors open in the child with what they point to and
// their close-on-exec flag (Linux: it reads /proc/self/fd and fdinfo). The
// descriptor it reads /proc/self/fd through is among them.
//
//mp:target
func FDs() ([]FD, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	var fds []FD
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil {
			continue // the directory descriptor of ReadDir, already closed
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		cloexec, err := fdinfoCloExec(string(info))
		if err != nil {
			return nil, fmt.Errorf("fd %d: %w", n, err)
		}
		fds = append(fds, FD{Num: n, Link: link, CloExec: cloexec})
	}
	sort.Slice(fds, func(i, j int) bool { return fds[i].Num < fds[j].Num })
	return fds, nil
}

// fdinfoCloExec reads the O_CLOEXEC bit (octal 02000000 on Linux) from the
// "flags:" line of a /proc/<pid>/fdinfo/<fd> file.
func fdinfoCloExec(info string) (bool, error) {
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(rest), 8, 64)
			if err != nil {
				return false, err
			}
			return flags&0o2000000 != 0, nil
		}
	}
	return false, errors.New("no flags line in fdinfo")
}

// SpewPattern is the content Spew writes to a stream: numbered lines that
// start with the stream's name, n bytes in all.
func SpewPattern(stream string, n int) []byte {
	b := make([]byte, 0, n+64)
	for i := 0; len(b) < n; i++ {
		b = append(b, stream...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, '\n')
	}
	return b[:n]
}

// Spew writes SpewPattern("stdout", n) to stdout and SpewPattern("stderr",
// n) to stderr, both at once, in chunks of odd sizes.
//
//mp:target
func Spew(n int) error {
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []struct {
		name string
		f    *os.File
	}{{"stdout", os.Stdout}, {"stderr", os.Stderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := SpewPattern(s.name, n)
			for len(b) > 0 {
				k := min(len(b), 12345)
				if _, err := s.f.Write(b[:k]); err != nil {
					errs[i] = err
					return
				}
				b = b[k:]
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Garble breaks the child's own control channel (the only socket a child
// has open), then sleeps d. Modes:
//
//	close      close the channel's descriptor
//	shutdown   shut the socket down in both directions
//	too-large  send a frame header whose length is 4 GiB - 1
//	short      send a frame header whose length is shorter than a header
//	junk-kind  send a well-formed frame of an unknown kind
//	bad-result send a result frame whose body does not parse
//	truncated  send the first bytes of a result frame only
//
// With exit set it calls os.Exit(0) instead of sleeping, so the parent
// sees a child that exited "successfully" after garbling the channel.
//
//mp:target
func Garble(mode string, d time.Duration, exit bool) error {
	fd, err := controlFD()
	if err != nil {
		return err
	}
	frame := func(kind byte, body string) []byte {
		n := 9 + len(body)
		b := []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), kind, 0, 0, 0, 0, 0, 0, 0, 1}
		return append(b, body...)
	}
	switch mode {
	case "close":
		err = closeFD(fd)
	case "shutdown":
		err = shutdownFD(fd)
	case "too-large":
		err = writeFD(fd, []byte{0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 1})
	case "short":
		err = writeFD(fd, []byte{0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 1})
	case "junk-kind":
		err = writeFD(fd, frame(0x58, "junk"))
	case "bad-result":
		err = writeFD(fd, frame(3, "\x07garbage"))
	case "truncated":
		err = writeFD(fd, frame(3, "\x01\x20 this result body is cut short")[:20])
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return fmt.Errorf("garble %s: %w", mode, err)
	}
	if exit {
		os.Exit(0)
	}
	time.Sleep(d)
	return nil
}

// controlFD finds the child's control channel: its only socket.
func controlFD() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1, err
	}
	fd := -1
	for _, e := range ents {
		link, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || !strings.HasPrefix(link, "socket:") {
			continue
		}
		if fd >= 0 {
			return -1, errors.New("more than one socket open")
		}
		fd, _ = strconv.Atoi(e.Name())
	}
	if fd < 0 {
		return -1, errors.New("no socket open")
	}
	return fd, nil
}

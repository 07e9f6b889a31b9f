package targets

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Targets that probe a sandboxed child: each does one thing a sandbox may
// forbid and reports what happened.

// ReadFile returns the content of the file path.
//
//mp:target
func ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }

// WriteFile writes data to the file path, creating it.
//
//mp:target
func WriteFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

// Dial opens a TCP connection to addr and closes it.
//
//mp:target
func Dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// DialUDP sends a datagram to addr.
//
//mp:target
func DialUDP(addr string) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte("hello"))
	return err
}

// Allocate allocates n bytes in 1 MiB pieces, touches each page and
// returns n once all are held.
//
//mp:target
func Allocate(n int) int {
	var held [][]byte
	for got := 0; got < n; got += 1 << 20 {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		held = append(held, b)
	}
	return len(held) << 20
}

// Spin uses the CPU for d of wall time (so a test whose limit failed still
// ends) and returns how many rounds it made.
//
//mp:target
func Spin(d time.Duration) int {
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); n++ {
	}
	return n
}

// OpenPipes opens up to n pipes and returns how many it opened and the
// error that stopped it.
//
//mp:target
func OpenPipes(n int) (int, error) {
	var fs []*os.File
	defer func() {
		for _, f := range fs {
			f.Close()
		}
	}()
	for i := 0; i < n; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			return i, err
		}
		fs = append(fs, r, w)
	}
	return n, nil
}

// Status returns the lines of /proc/self/status whose names are given.
//
//mp:target
func Status(names []string) (map[string]string, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		for _, n := range names {
			if ok && k == n {
				out[k] = strings.TrimSpace(v)
			}
		}
	}
	return out, nil
}

// RaiseFileLimit tries to raise the hard limit on open files.
//
//mp:target
func RaiseFileLimit() error { return raiseFileLimit() }

// StartSleepers starts up to n processes of path (which sleeps when given
// an argument of seconds), kills them all, and returns how many started and
// the error that stopped it.
//
//mp:target
func StartSleepers(path string, n int) (int, error) {
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	for i := 0; i < n; i++ {
		c := exec.Command(path, "30")
		if err := c.Start(); err != nil {
			return i, err
		}
		cmds = append(cmds, c)
	}
	return n, nil
}

// UserIDs returns the user and group ids the target runs as.
//
//mp:target
func UserIDs() ([2]int, error) {
	uid, gid := os.Getuid(), os.Getgid()
	if uid < 0 {
		return [2]int{}, errors.New("no user ids here")
	}
	return [2]int{uid, gid}, nil
}

// SpinIgnoringCPULimit ignores SIGXCPU, the first signal of a CPU time
// limit, then spins for d.
//
//mp:target
func SpinIgnoringCPULimit(d time.Duration) int {
	ignoreCPULimitSignal()
	return Spin(d)
}

// Forbidden tries something the sandbox's system call filter or scope
// refuses and returns its error: "signal" sends signal 0 to pid (outside
// the sandbox), "unshare" makes a user namespace, "io_uring" sets up a
// ring.
//
//mp:target
func Forbidden(what string, pid int) error { return forbidden(what, pid) }

// StartOrphan starts /bin/sh -c script with this process's stdout and
// stderr, and returns without waiting for it.
//
//mp:target
func StartOrphan(script string) error {
	c := exec.Command("/bin/sh", "-c", script)
	c.Stdout, c.Stderr = os.Stdout, os.Stderr
	if err := c.Start(); err != nil {
		return err
	}
	return c.Process.Release()
}

// ForbiddenAt tries something a sandbox refuses, at arg, and returns its
// error: "chmod" a file, "unix" connect to a Unix socket, "tfo" send data
// with TCP Fast Open to a host:port, "listen" on TCP without bind,
// "tiocsti" push a byte into the terminal input of descriptor 0.
//
//mp:target
func ForbiddenAt(what, arg string) error { return forbiddenAt(what, arg) }

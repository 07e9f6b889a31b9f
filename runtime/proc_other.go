//go:build !unix

package mp

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
)

// errWindows says what is missing off Unix (Windows): an inheritable duplex
// control channel (a socketpair on Unix).
var errWindows = errors.New("starting child processes is not supported on this platform yet (mpgen needs a Unix socketpair)")

func spawn(stdout, stderr io.Writer) (*exec.Cmd, net.Conn, error) { return nil, nil, errWindows }

func controlConn(fd int) (net.Conn, error) { return nil, errWindows }

func terminate(p *os.Process) error { return p.Kill() }

func exitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ""
	}
	return ps.ExitCode(), ""
}

func onTerminate(cancel func(), hasContext bool) *atomic.Bool { return new(atomic.Bool) }

func dieOfTerminate() { os.Exit(1) }

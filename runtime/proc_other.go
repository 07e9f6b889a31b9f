//go:build !unix

package mp

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"time"
)

// errUnsupported says what is missing off Unix (Windows): an inheritable
// duplex control channel (a socketpair on Unix).
var errUnsupported = errors.New("starting child processes is not supported on this platform yet (mpgen needs a Unix socketpair)")

const outputWait = 5 * time.Second

type outputs struct{}

func (o *outputs) wait(time.Duration) {}

func spawn(stdout, stderr io.Writer) (*exec.Cmd, *os.File, *outputs, error) {
	return nil, nil, nil, errUnsupported
}

func controlConn(fd int) (*os.File, error) { return nil, errUnsupported }

func inheritableFDs() []int { return nil }

func closeInherited(fds []int) {}

func shutdownWrite(f *os.File) { f.Close() }

func terminate(p *os.Process) error { return p.Kill() }

func exitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ""
	}
	return ps.ExitCode(), ""
}

func onTerminate(cancel func(), hasContext bool) *atomic.Bool { return new(atomic.Bool) }

func dieOfTerminate() { os.Exit(1) }

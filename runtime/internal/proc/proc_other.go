//go:build !unix && !windows

package proc

import (
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
)

const OutputWait = 5 * time.Second

type Outputs struct{}

func (o *Outputs) Wait(time.Duration) {}

func (o *Outputs) Death(ps *os.ProcessState, killed bool) Death {
	d := Death{}
	d.Code, d.Signal = ExitStatus(ps)
	return d
}

func Spawn(exe string, args []string, marker string, extraEnv []string, stdout, stderr io.Writer, prepare func(*exec.Cmd) error) (*exec.Cmd, *os.File, *Outputs, error) {
	return nil, nil, nil, fdio.ErrUnsupported
}

func ParseMarker(v string) (int, error) { return 0, fdio.ErrUnsupported }

func ControlConn(fd int) (*os.File, error) { return nil, fdio.ErrUnsupported }

func InheritableFDs() []int { return nil }

func CloseInherited(fds []int) {}

func ShutdownWrite(f *os.File) { f.Close() }

func Terminate(p *os.Process, ask func()) error { return p.Kill() }

func RequestTerminate() { DieOfTerminate() }

func Kill(p *os.Process) error { return p.Kill() }

func ExitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ""
	}
	return ps.ExitCode(), ""
}

func OnTerminate(cancel func(), hasContext bool) *atomic.Bool { return new(atomic.Bool) }

func DieOfTerminate() { os.Exit(1) }

func TakeParentName() {}

func Exited(p *os.Process) bool { return true }

func notifyCont() chan os.Signal { return nil }

func stopCont(chan os.Signal) {}

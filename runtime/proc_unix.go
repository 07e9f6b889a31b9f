//go:build unix

package mp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// selfExe is the program's own image. On Linux /proc/self/exe starts the
// very image that is running, even when the file was replaced or deleted.
func selfExe() (string, error) {
	if runtime.GOOS == "linux" {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}

// spawn starts the program's own binary as a child with the control
// channel on descriptor 3 and the marker in its environment, and returns
// the parent's end of the channel.
func spawn(stdout, stderr io.Writer) (*exec.Cmd, net.Conn, error) {
	exe, err := selfExe()
	if err != nil {
		return nil, nil, err
	}
	syscall.ForkLock.Lock()
	closeOnExecAll()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err == nil {
		syscall.CloseOnExec(fds[0])
		syscall.CloseOnExec(fds[1])
	}
	syscall.ForkLock.Unlock()
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	parentFile := os.NewFile(uintptr(fds[0]), "mpgen-control")
	childFile := os.NewFile(uintptr(fds[1]), "mpgen-control-child")
	defer childFile.Close()
	conn, err := net.FileConn(parentFile)
	parentFile.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("control channel: %w", err)
	}
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	env := append(os.Environ(), envMarker+"=fd=3")
	if _, set := os.LookupEnv("GORACE"); raceEnabled && !set {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       []string{os.Args[0]},
		Env:        env,
		Stdout:     stdout,
		Stderr:     stderr,
		ExtraFiles: []*os.File{childFile},
		// When Stdout or Stderr is not a file, a grandchild holding the
		// pipe must not keep Wait from returning after the child exits.
		WaitDelay: 5 * time.Second,
	}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return cmd, conn, nil
}

// controlConn opens the inherited control channel in the child.
func controlConn(fd int) (net.Conn, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil, errors.New("not a socket")
	}
	f := os.NewFile(uintptr(fd), "mpgen-control")
	defer f.Close()
	return net.FileConn(f) // a close-on-exec duplicate
}

// terminate sends the graceful stop signal.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }

// exitStatus converts a process state to Python's exit code convention and
// the name of the killing signal, if any.
func exitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal()), signalName(ws.Signal())
	}
	return ps.ExitCode(), ""
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGSEGV:
		return "SIGSEGV"
	case syscall.SIGABRT:
		return "SIGABRT"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// onTerminate makes SIGTERM cancel the call's context. A target that takes
// no context cannot notice, so the child then dies of the signal at once,
// as a Python child does; otherwise the target may wind down and the child
// dies of SIGTERM after reporting. The returned flag is set once SIGTERM
// arrived.
func onTerminate(cancel func(), hasContext bool) *atomic.Bool {
	var got atomic.Bool
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM)
	go func() {
		<-ch
		got.Store(true)
		cancel()
		if !hasContext {
			dieOfTerminate()
		}
	}()
	return &got
}

// dieOfTerminate ends the process by SIGTERM so that the parent sees exit
// code -15, as Python reports a terminated child.
func dieOfTerminate() {
	signal.Reset(syscall.SIGTERM)
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	time.Sleep(time.Second) // the signal is delivered long before this ends
	os.Exit(128 + int(syscall.SIGTERM))
}

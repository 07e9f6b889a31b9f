//go:build unix

package proc

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/israce"
)

// Spawn starts a child with the control channel on descriptor ControlFD,
// argv this program's own argv[0] followed by args, extraEnv added to this
// process's environment, and the variable marker set to where the child
// finds its channel (see ParseMarker; no variable if marker is ""), and
// returns the parent's end of the channel
// and the child's output copiers. stdout and stderr receive the child's
// output (nil: this process's own). On Linux the kernel kills the child
// with SIGKILL when this process ends, even while the child is stopped
// (startChild); elsewhere the child sees its control channel's end of file.
//
// exe is the file to start; "" means the program's own image, started
// from the program's file so that the child shows under the program's
// name in ps, top and pgrep (the kernel names a process after the file it
// was started from). On Linux that holds only while the file is the image
// that runs: when it was deleted or replaced (an upgrade in place), the
// child starts from /proc/self/exe, the very image that runs, and a child
// that started from a file replaced at that moment is killed before it
// gets anything and started again from there.
//
// prepare, when not nil, adjusts the command before the fork (its
// SysProcAttr: the namespaces and user of a sandboxed child).
func Spawn(exe string, args []string, marker string, extraEnv []string, stdout, stderr io.Writer, prepare func(*exec.Cmd) error) (*exec.Cmd, *os.File, *Outputs, error) {
	if marker != "" {
		extraEnv = append(slices.Clip(extraEnv), marker+"=fd="+strconv.Itoa(ControlFD))
	}
	if exe != "" {
		return spawn(exe, args, extraEnv, stdout, stderr, prepare)
	}
	path, err := ownImage()
	if err != nil {
		return nil, nil, nil, err
	}
	cmd, conn, outs, err := spawn(path, args, extraEnv, stdout, stderr, prepare)
	if path == selfImage || selfImage == "" {
		return cmd, conn, outs, err
	}
	switch {
	case err == nil && runsOwnImage(cmd.Process.Pid):
		return cmd, conn, outs, nil
	case err == nil:
		// Another program took the file's name between the check and
		// the start: it has had no handshake, and never will. Its
		// output, if any, is copied before the real child's.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		conn.Close()
		outs.Wait(OutputWait)
	case !fileError(err):
		return nil, nil, nil, err
	}
	return spawn(selfImage, args, extraEnv, stdout, stderr, prepare)
}

// fileError reports whether a failed start is the file's fault (it went
// away or changed under us), not the system's.
func fileError(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.ENOEXEC) ||
		errors.Is(err, syscall.ETXTBSY) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP)
}

// spawn is Spawn from the file exe.
func spawn(exe string, args, extraEnv []string, stdout, stderr io.Writer, prepare func(*exec.Cmd) error) (*exec.Cmd, *os.File, *Outputs, error) {
	fds, err := fdio.Socketpair(syscall.SOCK_STREAM)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, nil, nil, fmt.Errorf("control channel: %w", err)
	}
	conn := os.NewFile(uintptr(fds[0]), "mpgen-control") // pollable: deadlines work
	childEnd := os.NewFile(uintptr(fds[1]), "mpgen-control-child")
	defer childEnd.Close()

	out := newOutputs()
	outFile, errFile, err := out.files(stdout, stderr)
	if err == nil {
		var cmd *exec.Cmd
		if cmd, err = start(exe, args, extraEnv, outFile, errFile, childEnd, prepare); err == nil {
			out.started(cmd.Process.Pid)
			return cmd, conn, out, nil
		}
	}
	out.abandon()
	conn.Close()
	return nil, nil, nil, err
}

// start starts exe with stdin on /dev/null, stdout and stderr on the files
// given and the control channel on ControlFD.
func start(exe string, args, extraEnv []string, stdout, stderr, control *os.File, prepare func(*exec.Cmd) error) (*exec.Cmd, error) {
	stdin, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	defer stdin.Close()
	files, dups, err := fitFiles([]*os.File{stdin, stdout, stderr, control})
	defer closeFiles(dups)
	if err != nil {
		return nil, err
	}
	env := withEnv(os.Environ(), extraEnv)
	if _, set := os.LookupEnv("GORACE"); israce.Enabled && !set {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       append([]string{os.Args[0]}, args...),
		Env:        env,
		Stdin:      files[0],
		Stdout:     files[1],
		Stderr:     files[2],
		ExtraFiles: files[3:],
	}
	if prepare != nil {
		if err := prepare(cmd); err != nil {
			return nil, err
		}
	}
	if err := startChild(cmd); err != nil {
		return nil, err
	}
	return cmd, nil
}

// fitFiles makes the child's descriptors fit under the descriptor limit,
// so that a start that fails for want of descriptors fails with EMFILE.
// Between fork and exec, syscall.forkExec moves its status pipe, and any
// of files[i] below i, to the slots just above the highest of files
// (descriptors i themselves are free to take); a slot at or above the soft
// RLIMIT_NOFILE fails there with EBADF. So os/exec never starts a child
// whose stdout is the last descriptor under the limit, and fails the same
// way when a concurrent close lets its status pipe land below the files.
// fitFiles replaces the highest of files by a duplicate in the lowest free
// slot until the slots the child needs fit, and fails with EMFILE when no
// lower slot is free. dups are the duplicates it made, which the caller
// closes after the start.
func fitFiles(files []*os.File) (fitted, dups []*os.File, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur <= 0 || lim.Cur > 1<<30 {
		return files, nil, nil // no limit worth the name
	}
	limit := int(lim.Cur)
	fitted = slices.Clone(files)
	for {
		top, moved := len(fitted), 0 // forkExec's first free slot is top+1
		for i, f := range fitted {
			fd := int(f.Fd())
			top = max(top, fd)
			if fd < i {
				moved++
			}
		}
		if top+1+moved < limit {
			return fitted, dups, nil
		}
		highest := slices.MaxFunc(fitted, func(a, b *os.File) int { return cmp.Compare(a.Fd(), b.Fd()) })
		syscall.ForkLock.RLock() // no child may inherit the duplicate before it is close-on-exec
		fd, err := syscall.Dup(int(highest.Fd()))
		if err == nil {
			syscall.CloseOnExec(fd)
		}
		syscall.ForkLock.RUnlock()
		if err != nil {
			return nil, dups, os.NewSyscallError("dup", err)
		}
		dup := os.NewFile(uintptr(fd), highest.Name())
		dups = append(dups, dup)
		if uint(fd) > uint(highest.Fd()) { // no lower slot is free
			return nil, dups, os.NewSyscallError("dup", syscall.EMFILE)
		}
		for i, f := range fitted {
			if f.Fd() == highest.Fd() {
				fitted[i] = dup
			}
		}
	}
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}

// ParseMarker returns the descriptor that the value of Spawn's marker
// variable names: "fd=3", ControlFD, is the only valid one.
func ParseMarker(v string) (int, error) {
	fd, err := strconv.Atoi(strings.TrimPrefix(v, "fd="))
	if err != nil || !strings.HasPrefix(v, "fd=") || fd != ControlFD {
		return 0, fmt.Errorf("%q is not fd=%d", v, ControlFD)
	}
	return fd, nil
}

// ControlConn opens the inherited control channel in the child. The
// descriptor must be a socket without close-on-exec, which proves that it
// was inherited rather than opened by this program's own initialisation.
func ControlConn(fd int) (*os.File, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil, errors.New("not a socket")
	}
	flags, err := fdFlags(fd)
	if err != nil {
		return nil, err
	}
	if flags&syscall.FD_CLOEXEC != 0 {
		return nil, errors.New("a socket this program opened itself, not one it inherited")
	}
	syscall.CloseOnExec(fd) // our own children must not inherit it
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "mpgen-control"), nil
}

func fdFlags(fd int) (int, error) {
	r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// InheritableFDs lists the descriptors above stderr that this process holds
// without close-on-exec: a child inherits them by accident (Go opens
// everything close-on-exec; these come from raw system calls or from our
// own parent). The parent lists them while the new child initialises, and
// the child closes them (CloseInherited), so a child holds only stdio and
// its control channel, as with Python's close_fds=True, and the parent's
// own descriptors are left alone.
func InheritableFDs() []int {
	dir, err := syscall.Open("/dev/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	var fds []int
	buf := make([]byte, 4096)
	for {
		n, err := syscall.ReadDirent(dir, buf)
		if err != nil || n <= 0 {
			break
		}
		_, _, names := syscall.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			fd, err := strconv.Atoi(name)
			if err != nil || fd <= 2 || fd == dir {
				continue
			}
			if flags, err := fdFlags(fd); err == nil && flags&syscall.FD_CLOEXEC == 0 {
				fds = append(fds, fd)
			}
		}
	}
	syscall.Close(dir)
	return fds
}

// CloseInherited closes, in a child, the descriptors the parent listed that
// are open here without close-on-exec, which proves they were inherited
// (everything this program opened itself is close-on-exec).
func CloseInherited(fds []int) {
	for _, fd := range fds {
		if fd <= ControlFD {
			continue
		}
		if flags, err := fdFlags(fd); err == nil && flags&syscall.FD_CLOEXEC == 0 {
			syscall.Close(fd)
		}
	}
}

// ShutdownWrite tells the peer that nothing more will be sent.
func ShutdownWrite(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = syscall.Shutdown(int(fd), syscall.SHUT_WR) })
	}
}

// Terminate asks p to stop gracefully: SIGTERM. ask, the other way to ask
// (the control channel's KindTerminate frame), is for platforms without
// signals and goes unused here.
func Terminate(p *os.Process, ask func()) error { return p.Signal(syscall.SIGTERM) }

// RequestTerminate acts in a child on its parent's request to terminate
// as on SIGTERM (what OnTerminate arranged).
func RequestTerminate() { _ = syscall.Kill(os.Getpid(), syscall.SIGTERM) }

// Kill ends p at once with SIGKILL.
func Kill(p *os.Process) error { return p.Kill() }

// Exited reports whether p has exited and been reaped: a live or stopped
// process has not, and neither, for the moment before the Wait that is
// already pending reaps it, has a zombie.
func Exited(p *os.Process) bool {
	return errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// ExitStatus converts a process state to Python's exit code convention and
// the name of the killing signal, if any.
func ExitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ""
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal()), signalName(ws.Signal())
	}
	return ps.ExitCode(), ""
}

// signalName names the signals a child commonly dies of as Python does.
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

// OnTerminate makes SIGTERM, and SIGINT (Ctrl-C in a terminal reaches
// every process of the foreground group), cancel the call's context. A
// target that takes no context cannot notice, so the child then dies of the
// signal at once, as a Python child does; otherwise the target may wind
// down and the child dies of that signal after reporting (DieOfTerminate).
// The returned flag is set once either signal arrived.
func OnTerminate(cancel func(), hasContext bool) *atomic.Bool {
	var got atomic.Bool
	if !hasContext {
		return &got // the default action already ends us with -SIGTERM or -SIGINT
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-ch
		if sig, ok := s.(syscall.Signal); ok {
			stopSignal.Store(int32(sig))
		}
		got.Store(true)
		cancel()
	}()
	return &got
}

// stopSignal is the signal OnTerminate caught first (0: none yet).
var stopSignal atomic.Int32

// DieOfTerminate ends the process by the signal OnTerminate caught, or by
// SIGTERM when it caught none, so that the parent sees exit code -15 (-2
// for SIGINT), as Python reports a terminated or interrupted child.
func DieOfTerminate() {
	sig := syscall.SIGTERM
	if s := stopSignal.Load(); s != 0 {
		sig = syscall.Signal(s)
	}
	signal.Reset(sig)
	_ = syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Second) // the signal is delivered long before this ends
	os.Exit(128 + int(sig))
}

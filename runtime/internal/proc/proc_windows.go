//go:build windows

package proc

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/israce"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// On Windows the control channel is a duplex named pipe opened for
// overlapped I/O at both ends (so reads and writes do not block each other
// and deadlines work), whose child end the child inherits as a handle
// named in the marker variable; the child ends with its parent through a
// job object that kills its processes when the parent's handle to it
// closes, which happens however the parent ends.

// Spawn starts a child with argv this program's own argv[0] followed by
// args, extraEnv added to this process's environment, and the variable
// marker set to the handle of its end of the control channel (see
// ParseMarker), and returns the parent's end of the channel and the
// child's output copiers. stdout and stderr receive the child's output
// (nil: this process's own). exe is the file to start; "" means the
// program's own (os.Executable).
func Spawn(exe string, args []string, marker string, extraEnv []string, stdout, stderr io.Writer, prepare func(*exec.Cmd) error) (*exec.Cmd, *os.File, *Outputs, error) {
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, nil, nil, err
		}
	}
	conn, childEnd, err := pipePair()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("control channel: %w", err)
	}
	defer childEnd.Close()
	env := withEnv(os.Environ(), extraEnv)
	if marker != "" {
		env = append(env, marker+"=fd="+strconv.FormatUint(uint64(childEnd.Fd()), 10))
	}
	env = append(env, hostEnv+"="+strconv.FormatUint(uint64(fdio.TransitHost()), 10))
	if _, set := os.LookupEnv("GORACE"); israce.Enabled && !set {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	out := newOutputs()
	outFile, errFile, err := out.files(stdout, stderr)
	if err == nil {
		cmd := &exec.Cmd{
			Path:   exe,
			Args:   append([]string{os.Args[0]}, args...),
			Env:    env,
			Stdout: outFile,
			Stderr: errFile,
			SysProcAttr: &syscall.SysProcAttr{
				AdditionalInheritedHandles: []syscall.Handle{syscall.Handle(childEnd.Fd())},
			},
		}
		if prepare != nil {
			err = prepare(cmd)
		}
		if err == nil {
			err = cmd.Start()
		}
		if err == nil {
			if err = joinJob(cmd.Process.Pid); err != nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			} else {
				out.started(cmd.Process.Pid)
				return cmd, conn, out, nil
			}
		}
	}
	out.abandon()
	conn.Close()
	return nil, nil, nil, err
}

// pipePair makes the control channel: a named pipe of one instance under a
// random name, and its only client, opened by us; the child's end is
// inheritable. Nobody else can take the client's place: a second client
// finds the pipe busy, and if one came first our open fails.
func pipePair() (parent, child *os.File, err error) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	name := `\\.\pipe\mpgen-` + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(rnd[:])
	name16, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, nil, err
	}
	const bufSize = 64 << 10
	srv, err := windows.CreateNamedPipe(name16,
		windows.PIPE_ACCESS_DUPLEX|windows.FILE_FLAG_OVERLAPPED|windows.FILE_FLAG_FIRST_PIPE_INSTANCE,
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|windows.PIPE_REJECT_REMOTE_CLIENTS,
		1, bufSize, bufSize, 0, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("CreateNamedPipe: %w", err)
	}
	sa := &windows.SecurityAttributes{InheritHandle: 1}
	sa.Length = uint32(unsafe.Sizeof(*sa))
	cli, err := windows.CreateFile(name16, windows.GENERIC_READ|windows.GENERIC_WRITE, 0, sa,
		windows.OPEN_EXISTING, windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		windows.CloseHandle(srv)
		return nil, nil, fmt.Errorf("open the control pipe: %w", err)
	}
	return os.NewFile(uintptr(srv), "mpgen-control"), os.NewFile(uintptr(cli), "mpgen-control-child"), nil
}

// job is the job object of this process's children: it kills them all
// when its last handle closes, that is when this process ends, however it
// ends.
var job struct {
	once sync.Once
	h    windows.Handle
	err  error
}

func joinJob(pid int) error {
	job.once.Do(func() {
		h, err := windows.CreateJobObject(nil, nil)
		if err != nil {
			job.err = fmt.Errorf("CreateJobObject: %w", err)
			return
		}
		var info windows.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
		info.BasicLimitInformation.LimitFlags = windows.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
		if _, err := windows.SetInformationJobObject(h, windows.JobObjectExtendedLimitInformation,
			uintptr(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info))); err != nil {
			windows.CloseHandle(h)
			job.err = fmt.Errorf("SetInformationJobObject: %w", err)
			return
		}
		job.h = h
	})
	if job.err != nil {
		return job.err
	}
	ph, err := windows.OpenProcess(windows.PROCESS_SET_QUOTA|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return fmt.Errorf("OpenProcess: %w", err)
	}
	defer windows.CloseHandle(ph)
	if err := windows.AssignProcessToJobObject(job.h, ph); err != nil {
		return fmt.Errorf("AssignProcessToJobObject: %w", err)
	}
	return nil
}

// ParseMarker returns the handle that the value of Spawn's marker
// variable names ("fd=" and its number).
func ParseMarker(v string) (int, error) {
	h, err := strconv.ParseUint(strings.TrimPrefix(v, "fd="), 10, 64)
	if err != nil || !strings.HasPrefix(v, "fd=") || h == 0 {
		return 0, fmt.Errorf("%q is not fd= and a handle", v)
	}
	return int(h), nil
}

// ControlConn opens the inherited control channel in the child. The
// handle must be a pipe marked inheritable and named as the parent names
// its children's channels (pipePair: mpgen-<the parent's pid>-...), which
// proves that it was inherited from the parent rather than opened by this
// program's own initialisation (os.Pipe's handles are inheritable too); it
// stops being inheritable here, so our own children do not get it.
func ControlConn(fd int) (*os.File, error) {
	h := windows.Handle(fd)
	t, err := windows.GetFileType(h)
	if err != nil {
		return nil, err
	}
	if t != windows.FILE_TYPE_PIPE {
		return nil, errors.New("not a pipe")
	}
	var flags uint32
	if r, _, err := getHandleInformation.Call(uintptr(h), uintptr(unsafe.Pointer(&flags))); r == 0 {
		return nil, fmt.Errorf("GetHandleInformation: %w", err)
	}
	if flags&windows.HANDLE_FLAG_INHERIT == 0 || !strings.HasPrefix(pipeName(h), "mpgen-"+strconv.Itoa(os.Getppid())+"-") {
		return nil, errors.New("a pipe this program opened itself, not one it inherited from its parent")
	}
	if err := windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, 0); err != nil {
		return nil, err
	}
	takeTransitHost()
	return os.NewFile(uintptr(h), "mpgen-control"), nil
}

// hostEnv names the variable through which Spawn tells a child which
// process holds the handles it sends until they are received: the first
// process of the program (see fdio.SetTransitHost), which outlives every
// child, so that a handle a child sends just before it exits (a value
// spilled into a file, a Conn put in a Queue) is not lost with the child.
const hostEnv = "MPGEN_HANDLE_HOST"

// takeTransitHost makes the process hostEnv names this child's transit
// host, and unsets the variable, which programs this child starts
// otherwise would inherit. Without it (or if the host cannot be opened)
// the child holds its handles in transit itself.
func takeTransitHost() {
	v, ok := os.LookupEnv(hostEnv)
	if !ok {
		return
	}
	os.Unsetenv(hostEnv)
	if pid, err := strconv.ParseUint(v, 10, 32); err == nil {
		_ = fdio.SetTransitHost(uint32(pid))
	}
}

// pipeName returns the last element of the name of the pipe h (name, for
// \\.\pipe\name), or "".
func pipeName(h windows.Handle) string {
	var buf [4 + 2*windows.MAX_PATH]byte
	if err := windows.GetFileInformationByHandleEx(h, windows.FileNameInfo, &buf[0], uint32(len(buf))); err != nil {
		return ""
	}
	n := binary.LittleEndian.Uint32(buf[:4]) / 2 // FILE_NAME_INFO: its length in bytes, then UTF-16
	if int(n) > (len(buf)-4)/2 {
		return ""
	}
	u := make([]uint16, n)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(buf[4+2*i:])
	}
	name := string(utf16.Decode(u))
	return name[strings.LastIndexByte(name, '\\')+1:]
}

// getHandleInformation is kernel32's, which x/sys/windows does not wrap.
var getHandleInformation = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetHandleInformation")

// InheritableFDs returns nothing: a child inherits only the handles
// Spawn lists (os/exec passes an explicit handle list).
func InheritableFDs() []int { return nil }

// CloseInherited does nothing: see InheritableFDs.
func CloseInherited(fds []int) {}

// TakeParentName does nothing: the child is named after the program's
// file, as its parent is.
func TakeParentName() {}

// ShutdownWrite tells the peer that nothing more will be sent: a pipe has
// no half-close, so it sends wire.EndOfStream.
func ShutdownWrite(f *os.File) { _, _ = f.Write(wire.EndOfStream[:]) }

// terminateCode is the exit code Terminate gives a process, as Python's
// multiprocessing does on Windows; ExitStatus reports it as -SIGTERM.
const terminateCode = 0x10000

// Terminate asks p to stop gracefully. There is no SIGTERM on Windows, so
// ask sends the request over the control channel (the child then acts as
// on SIGTERM: RequestTerminate); the caller ends p with Kill if it has not
// stopped after a delay. Without ask, Terminate ends p at once, as
// Python's terminate does on Windows.
func Terminate(p *os.Process, ask func()) error {
	if ask == nil {
		return terminate(p)
	}
	if Exited(p) {
		return os.ErrProcessDone
	}
	ask()
	return nil
}

// Kill ends p at once. It is Terminate: Python's kill on Windows is its
// terminate, and reports the same exit code, -SIGTERM. (os.Process.Kill
// would end the child with exit code 1, which reads as the target's own
// failure.)
func Kill(p *os.Process) error { return terminate(p) }

// Exited reports whether p has exited (whether or not it has been waited
// for): its handle is signalled, or os has released it after a Wait.
func Exited(p *os.Process) bool {
	exited := true
	_ = p.WithHandle(func(h uintptr) {
		ev, err := windows.WaitForSingleObject(windows.Handle(h), 0)
		exited = err == nil && ev == windows.WAIT_OBJECT_0
	})
	return exited
}

// terminate calls TerminateProcess with terminateCode on the handle os/exec
// holds for p, never on a handle opened by pid: once p has been waited
// for, its pid may be another process's. A process that already ended, or
// was waited for (os then releases its handle), gives os.ErrProcessDone.
func terminate(p *os.Process) error {
	var err error
	if herr := p.WithHandle(func(h uintptr) {
		if err = windows.TerminateProcess(windows.Handle(h), terminateCode); err != nil {
			// TerminateProcess of a process that has exited but not
			// been waited for fails with ERROR_ACCESS_DENIED.
			var code uint32
			if windows.GetExitCodeProcess(windows.Handle(h), &code) == nil && code != stillActive {
				err = os.ErrProcessDone
			}
		}
	}); herr != nil {
		return os.ErrProcessDone
	}
	return err
}

// stillActive is the exit code GetExitCodeProcess reports for a process
// that has not ended (STILL_ACTIVE).
const stillActive = 259

// ExitStatus converts a process state to Python's exit code convention:
// a terminated process reports -15 and "SIGTERM".
func ExitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ""
	}
	if uint32(ps.ExitCode()) == terminateCode {
		return -15, "SIGTERM"
	}
	return ps.ExitCode(), ""
}

// OnTerminate makes the parent's request to terminate (RequestTerminate)
// cancel the call's context, as SIGTERM does on Unix; a target that takes
// no context cannot notice, so the child then ends at once. The returned
// flag is set once the request arrived.
func OnTerminate(cancel func(), hasContext bool) *atomic.Bool {
	stopReq.mu.Lock()
	defer stopReq.mu.Unlock()
	stopReq.cancel, stopReq.hasContext, stopReq.armed = cancel, hasContext, true
	if stopReq.early { // the request came first
		defer stopNow()
	}
	return &stopReq.got
}

// stopReq is what OnTerminate arranged, and whether a request came.
var stopReq struct {
	mu         sync.Mutex
	armed      bool // OnTerminate has run
	early      bool // a request came before it
	cancel     func()
	hasContext bool
	got        atomic.Bool
}

// RequestTerminate acts on the parent's request to terminate (a
// KindTerminate frame on the control channel) as OnTerminate arranged.
func RequestTerminate() {
	stopReq.mu.Lock()
	if !stopReq.armed {
		stopReq.early = true
		stopReq.mu.Unlock()
		return
	}
	stopReq.mu.Unlock()
	stopNow()
}

func stopNow() {
	stopReq.got.Store(true)
	if !stopReq.hasContext {
		DieOfTerminate()
	}
	stopReq.cancel()
}

// DieOfTerminate ends the process as Terminate would have.
func DieOfTerminate() { os.Exit(terminateCode) }

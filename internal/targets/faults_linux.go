package targets

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// limitAddressSpace sets this process's soft RLIMIT_AS to the address space
// it maps now plus extra bytes. The hard limit stays, so the limit applies
// from the next mapping on (setrlimit never unmaps anything).
func limitAddressSpace(extra int64) error {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return err
	}
	defer f.Close()
	var vmKiB int64 = -1
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmSize:"); ok {
			vmKiB, err = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return err
			}
		}
	}
	if vmKiB < 0 {
		return errors.New("no VmSize in /proc/self/status")
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		return err
	}
	lim.Cur = uint64(vmKiB<<10 + extra)
	if lim.Max != ^uint64(0) && lim.Cur > lim.Max {
		lim.Cur = lim.Max
	}
	return syscall.Setrlimit(syscall.RLIMIT_AS, &lim)
}

// selfImage is the running program image.
func selfImage() (string, error) { return "/proc/self/exe", nil }

// lowerFDLimit sets this process's soft RLIMIT_NOFILE to n (children
// inherit it) and fills every free descriptor below it with /dev/null. It
// returns the files it opened, most recent last.
func lowerFDLimit(n uint64) ([]*os.File, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil, err
	}
	lim.Cur = n
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil, err
	}
	var hoard []*os.File
	for {
		f, err := os.Open(os.DevNull)
		if err != nil {
			if !errors.Is(err, syscall.EMFILE) {
				return hoard, fmt.Errorf("filling the descriptor table: %w", err)
			}
			break
		}
		hoard = append(hoard, f)
	}
	return hoard, nil
}

func raiseFileLimit() error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	lim.Max++
	lim.Cur = lim.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

func ignoreCPULimitSignal() { signal.Ignore(syscall.SIGXCPU) }

func forbidden(what string, pid int) error {
	switch what {
	case "signal":
		return syscall.Kill(pid, 0)
	case "prlimit":
		var lim unix.Rlimit // the process's own limit, set again: harmless if allowed
		if err := unix.Prlimit(pid, unix.RLIMIT_MSGQUEUE, nil, &lim); err != nil {
			return err
		}
		return unix.Prlimit(pid, unix.RLIMIT_MSGQUEUE, &lim, nil)
	case "unshare":
		runtime.LockOSThread() // the thread is left in the namespace: let it end with the goroutine
		return syscall.Unshare(syscall.CLONE_NEWUSER)
	case "io_uring":
		var params [120]byte // struct io_uring_params
		fd, _, e := syscall.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params)), 0)
		if e != 0 {
			return e
		}
		return syscall.Close(int(fd))
	}
	return errors.New("nothing forbidden is called " + what)
}

func forbiddenAt(what, arg string) error {
	switch what {
	case "chmod":
		return os.Chmod(arg, 0o600)
	case "unix":
		c, err := net.Dial("unix", arg)
		if err != nil {
			return err
		}
		return c.Close()
	case "tfo":
		ap, err := netip.ParseAddrPort(arg)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Sendto(fd, []byte("hi"), unix.MSG_FASTOPEN, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()})
	case "listen":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		return ln.Close()
	case "tiocsti":
		b := byte('x')
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&b)))
		if e != 0 {
			return e
		}
		return nil
	}
	return errors.New("nothing forbidden is called " + what)
}

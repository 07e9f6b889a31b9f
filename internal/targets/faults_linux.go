package targets

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
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

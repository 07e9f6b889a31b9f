package targets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// The targets in this file serve the runtime's fault tests: each fails in
// one way a real program can, so that the tests can show what the parent
// sees (a typed error, an exit code) and in how long.

// MapRace writes to one map from several goroutines until the Go runtime
// notices and kills the process with "fatal error: concurrent map writes"
// (exit code 2): a fatal error that, unlike a panic, no recover can catch.
// If nothing has been noticed after d it returns an error, so that a runtime
// that failed to notice cannot hang a test.
//
//mp:target
func MapRace(d time.Duration) error {
	if runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
	m := map[int]int{}
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; ; i++ {
				m[i&1023] = i // unsynchronised on purpose
			}
		}()
	}
	time.Sleep(d)
	return errors.New("no concurrent map write was detected")
}

// AllocBeyondLimit lowers the child's own address-space limit (RLIMIT_AS)
// to what it maps now plus limitMiB, then allocates and touches allocMiB.
// With allocMiB well beyond limitMiB the Go runtime cannot map the memory
// and dies with "fatal error: out of memory" (exit code 2). It returns the
// number of bytes allocated when the allocation somehow succeeds, and an
// error where the limit cannot be set (not Linux).
//
//mp:target
func AllocBeyondLimit(limitMiB, allocMiB int) (int, error) {
	if err := limitAddressSpace(int64(limitMiB) << 20); err != nil {
		return 0, fmt.Errorf("set RLIMIT_AS: %w", err)
	}
	b := make([]byte, allocMiB<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	hoard = append(hoard, b)
	return len(b), nil
}

// Announce writes msg and a newline to stdout, so a test knows the target
// is running (its signal handling is in place), then waits d or until its
// context is cancelled, and returns the context's error in that case.
//
//mp:target
func Announce(ctx context.Context, msg string, d time.Duration) error {
	if _, err := io.WriteString(os.Stdout, msg+"\n"); err != nil {
		return err
	}
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("announce %s interrupted: %w", msg, ctx.Err())
	}
}

// AnnounceNoCtx writes msg and a newline to stdout, then sleeps d: it has
// no context, so SIGTERM ends it at once with the signal's default action.
//
//mp:target
func AnnounceNoCtx(msg string, d time.Duration) {
	_, _ = io.WriteString(os.Stdout, msg+"\n")
	time.Sleep(d)
}

// Stubborn ignores SIGTERM (as a program that installed its own handler
// and carries on might), writes msg and a newline to stdout, then sleeps
// d: only SIGKILL ends it early.
//
//mp:target
func Stubborn(msg string, d time.Duration) {
	signal.Ignore(syscall.SIGTERM)
	_, _ = io.WriteString(os.Stdout, msg+"\n")
	time.Sleep(d)
}

// Image describes the program image a child runs.
type Image struct {
	Sum  string // hex SHA-256 of the image's bytes
	Path string // where the image came from (Linux: /proc/self/exe's link)
	Comm string // the command name ps shows (Linux: /proc/self/comm; else "")
}

// ownComm returns this process's command name on Linux, "" elsewhere.
func ownComm() string {
	b, _ := os.ReadFile("/proc/self/comm")
	return strings.TrimSuffix(string(b), "\n")
}

// ExeImage returns the SHA-256 of the program image the child runs. On
// Linux it reads /proc/self/exe, which is the running image even after its
// file was deleted or replaced on disk; elsewhere it reads os.Executable().
//
//mp:target
func ExeImage() (Image, error) {
	path, err := selfImage()
	if err != nil {
		return Image{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Image{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return Image{}, err
	}
	img := Image{Sum: hex.EncodeToString(h.Sum(nil)), Path: path, Comm: ownComm()}
	if link, err := os.Readlink(path); err == nil {
		img.Path = link
	}
	return img, nil
}

// AwaitOpen opens path for reading, closes it and returns n+1. With a
// FIFO at path it blocks, using no CPU, until a writer opens the FIFO:
// tests use it to hold many children alive at once and release them
// together.
//
//mp:target
func AwaitOpen(path string, n int) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	return n + 1, f.Close()
}

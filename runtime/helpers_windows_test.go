//go:build windows

package mp_test

// The Windows counterparts of helpers_unix_test.go: ending a process from
// outside, and telling Wine from Windows. The helpers that read /proc or
// send signals other than a kill have stubs that fail the test: a test
// that runs on Windows must not call them.

import (
	"testing"

	"golang.org/x/sys/windows"
)

// killCode and killSignal are how a child ended by Process.Kill reports:
// as Python does on Windows, Kill is Terminate, -SIGTERM.
const killCode, killSignal = -15, "SIGTERM"

// outsideKillCode and outsideKillSignal are how a child ended by kill9
// reports: exit code 1, a plain exit.
const outsideKillCode, outsideKillSignal = 1, ""

// kill9 ends pid at once from outside, as SIGKILL does on Unix:
// TerminateProcess with exit code 1, as `taskkill /F` does.
func kill9(t *testing.T, pid int) {
	t.Helper()
	h, err := windows.OpenProcess(windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		t.Fatalf("OpenProcess(%d): %v", pid, err)
	}
	defer windows.CloseHandle(h)
	if err := windows.TerminateProcess(h, 1); err != nil {
		t.Fatalf("TerminateProcess(%d): %v", pid, err)
	}
}

// stop suspends pid (ntdll's NtSuspendProcess), as SIGSTOP does on Unix:
// it can act on nothing, a terminate request included, until it is killed.
func stop(t *testing.T, pid int) {
	t.Helper()
	h, err := windows.OpenProcess(windows.PROCESS_SUSPEND_RESUME, false, uint32(pid))
	if err != nil {
		t.Fatalf("OpenProcess(%d): %v", pid, err)
	}
	defer windows.CloseHandle(h)
	if r, _, _ := ntSuspendProcess.Call(uintptr(h)); r != 0 {
		t.Fatalf("NtSuspendProcess(%d): status %#x", pid, r)
	}
}

// noNewFDs would check that t leaves no descriptor open: it reads
// /proc/self/fd.
func noNewFDs(t *testing.T) {
	t.Helper()
	t.Fatal("noNewFDs reads /proc/self/fd: not on Windows")
}

// underWine reports whether this Windows program runs under Wine: its
// ntdll exports wine_get_version, Windows' does not.
func underWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}

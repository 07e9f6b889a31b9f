//go:build windows

package shm

import "golang.org/x/sys/windows"

// On Windows a ProcID's start time is the low 32 bits of the process's
// creation time (GetProcessTimes, in 100 ns units; 1 when they are 0, as
// 0 means unknown). A process that exited is still found by its id while
// some process holds a handle to it; it is then signalled, and holds
// nothing any more, like a Linux zombie.

// openProcess opens process pid to read its state and creation time.
func openProcess(pid int) (windows.Handle, error) {
	return windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.SYNCHRONIZE, false, uint32(pid))
}

// startOf returns the start-time bits of the open process h, and whether
// it is still running.
func startOf(h windows.Handle) (start uint32, running bool, err error) {
	if r, _ := windows.WaitForSingleObject(h, 0); r == windows.WAIT_OBJECT_0 {
		return 0, false, nil
	}
	var c, e, k, u windows.Filetime
	if err := windows.GetProcessTimes(h, &c, &e, &k, &u); err != nil {
		return 0, true, err
	}
	if c.LowDateTime == 0 {
		return 1, true, nil
	}
	return c.LowDateTime, true, nil
}

// ProcIDOf returns the identity of the running process pid, or 0 if there
// is none, it has exited, or it cannot be opened.
func ProcIDOf(pid int) ProcID {
	if pid <= 0 || pid > 1<<31-1 {
		return 0
	}
	h, err := openProcess(pid)
	if err != nil {
		return 0
	}
	defer windows.CloseHandle(h)
	start, running, err := startOf(h)
	if err != nil || !running {
		return 0
	}
	return MakeProcID(pid, start)
}

func (id ProcID) alive() bool {
	pid := id.Pid()
	if pid <= 0 {
		return false
	}
	h, err := openProcess(pid)
	if err != nil {
		// ERROR_INVALID_PARAMETER: no such process. Any other refusal
		// (another user's process) leaves only the pid to judge by.
		return err != windows.ERROR_INVALID_PARAMETER
	}
	defer windows.CloseHandle(h)
	start, running, err := startOf(h)
	if !running {
		return false
	}
	return err != nil || id.Start() == 0 || start == id.Start()
}

func (id ProcID) gone() bool {
	if id.Pid() <= 0 {
		return true
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(id.Pid()))
	if err != nil {
		return err == windows.ERROR_INVALID_PARAMETER
	}
	windows.CloseHandle(h)
	return false
}

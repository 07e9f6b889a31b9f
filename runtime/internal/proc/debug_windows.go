package proc

import (
	"os"

	"golang.org/x/sys/windows"
)

var isDebuggerPresent = windows.NewLazySystemDLL("kernel32.dll").NewProc("IsDebuggerPresent")

// traced reports whether a debugger is attached (IsDebuggerPresent).
func traced() bool {
	r, _, _ := isDebuggerPresent.Call()
	return r != 0
}

// notifyCont: Windows has no SIGCONT; a nil channel never delivers.
func notifyCont() chan os.Signal { return nil }

func stopCont(chan os.Signal) {}

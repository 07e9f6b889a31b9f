package proc

import (
	"fmt"
	"os"
	"time"
)

// WaitForDebugger writes msg to stderr and waits until a debugger has
// attached to this process: on Linux until /proc/self/status shows a
// TracerPid, on macOS until the kernel marks it traced (P_TRACED), on
// Windows until IsDebuggerPresent; on Unix, a SIGCONT (kill -CONT pid)
// ends the wait too, for debuggers the checks do not see. A process whose
// parent is gone exits instead.
func WaitForDebugger(msg string) {
	cont := notifyCont() // before the message: a script that answers it at once is heard
	defer stopCont(cont)
	fmt.Fprintln(os.Stderr, msg)
	parent := os.Getppid()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !traced() {
		select {
		case <-cont:
			fmt.Fprintf(os.Stderr, "mpgen: pid %d: continued\n", os.Getpid())
			return
		case <-tick.C:
		}
		if os.Getppid() != parent {
			os.Exit(1)
		}
	}
	fmt.Fprintf(os.Stderr, "mpgen: pid %d: debugger attached\n", os.Getpid())
}

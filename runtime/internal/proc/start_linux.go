//go:build !mpgen_portable

package proc

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// startChild starts cmd so that the kernel kills the child with SIGKILL
// when this process ends, however it ends and whatever state the child is
// in: a stopped child cannot read its control channel's end of file, but a
// SIGKILL ends it anyway (PR_SET_PDEATHSIG).
//
// The kernel sends that signal when the thread that forked the child
// exits, not the process, and a Go thread exits when a goroutine locked to
// it ends. So every child is forked from one goroutine that locks its
// thread and never returns: the thread lives as long as the process. Forks
// are serialized by syscall.ForkLock anyway, so the hand-off costs nothing
// but a channel round trip.
func startChild(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	forker.once.Do(func() {
		forker.reqs = make(chan forkReq)
		go forkLoop(forker.reqs)
	})
	done := make(chan error, 1)
	forker.reqs <- forkReq{cmd, done}
	return <-done
}

type forkReq struct {
	cmd  *exec.Cmd
	done chan<- error
}

var forker struct {
	once sync.Once
	reqs chan forkReq
}

// forkLoop starts the children, on a thread that never exits.
func forkLoop(reqs <-chan forkReq) {
	runtime.LockOSThread() // never unlocked: see startChild
	for r := range reqs {
		r.done <- r.cmd.Start()
	}
}

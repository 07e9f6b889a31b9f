//go:build unix || windows

package proc

import (
	"io"
	"os"
	"sync"
	"time"
)

// OutputWait is how long a child's output may keep flowing after it exits
// (a grandchild may hold the pipe) before the parent stops copying it.
const OutputWait = 5 * time.Second

// Outputs copies a child's output through pipes: its stderr always, so
// that the parent keeps the tail of it (Death), and its stdout when it goes
// to a writer that is not a file or is labelled (Labeled). Unlike os/exec's
// copiers, a copier stuck in a writer that never returns cannot keep Join
// from returning: after the child has exited, Wait gives up after a bound.
type Outputs struct {
	writeEnds []*os.File // the child's ends, closed in the parent after Start
	readEnds  []*os.File
	done      []chan struct{}
	toFile    []bool // the copier writes to a file the child would have had itself

	ready     chan struct{} // closed once the child started, or failed to
	readyOnce sync.Once
	pid       int // the child's, once ready is closed

	stderr *tail // the tail of the child's stderr

	oomBase uint64 // the system's OOM-kill count as the child started
	oomOK   bool   // oomBase is known (set by the stderr copier)
}

// newOutputs returns the Outputs of a child about to start.
func newOutputs() *Outputs {
	return &Outputs{ready: make(chan struct{})}
}

// file returns what the child should get for w (def when w is nil): the
// file itself when w is one, unlabelled, and no tail is kept; else the
// write end of a pipe whose copier writes to it and, with keepTail, keeps
// its tail.
func (o *Outputs) file(w io.Writer, def *os.File, keepTail bool) (*os.File, error) {
	lab, _ := w.(*Labeled)
	if lab != nil {
		w = lab.W
		if lab.Mode == PrefixNone {
			lab = nil
		}
	}
	if w == nil {
		w = def
	}
	if f, ok := w.(*os.File); ok && lab == nil && !keepTail {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	var t *tail
	if keepTail {
		t = &tail{}
		o.stderr = t
	}
	done := make(chan struct{})
	_, toFile := w.(*os.File)
	o.writeEnds = append(o.writeEnds, pw)
	o.readEnds = append(o.readEnds, pr)
	o.done = append(o.done, done)
	o.toFile = append(o.toFile, toFile)
	go o.copy(w, pr, lab, t, done)
	return pw, nil
}

// copyBufs holds the copiers' read buffers.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copy copies src to dst until the child's end closes, labelled by lab
// when it is not nil, and keeps the tail in t when it is not nil. A writer
// that fails is given nothing more, but src is still read to its end, so
// that the child never blocks on a full pipe and the tail stays true.
func (o *Outputs) copy(dst io.Writer, src *os.File, lab *Labeled, t *tail, done chan struct{}) {
	defer close(done)
	defer src.Close()
	if t != nil {
		// Read here, beside the child's exec, rather than on Start's
		// path (it costs tens of microseconds). A child OOM-killed
		// before this read is reported as killed by a signal.
		o.oomBase, o.oomOK = oomKills()
	}
	var lb *labeler
	if lab != nil {
		<-o.ready // the label needs the pid
		lb = newLabeler(dst, lab, o.pid)
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	failed := false
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if t != nil {
				_, _ = t.Write(buf[:n])
			}
			if !failed {
				var werr error
				if lb != nil {
					werr = lb.write(buf[:n])
				} else {
					_, werr = dst.Write(buf[:n])
				}
				failed = werr != nil
			}
		}
		if err != nil {
			break
		}
	}
	if lb != nil && !failed {
		_ = lb.flush()
	}
}

// started closes the parent's copies of the child's pipe ends and gives
// the labellers the child's pid.
func (o *Outputs) started(pid int) {
	for _, f := range o.writeEnds {
		f.Close()
	}
	o.pid = pid
	o.readyOnce.Do(func() { close(o.ready) })
}

// abandon releases everything after a failed start.
func (o *Outputs) abandon() {
	o.started(0)
	for _, f := range o.readEnds {
		f.Close()
	}
}

// Wait lets the copiers finish for up to d, then closes the pipes (so a
// grandchild holding them gets EPIPE) and stops waiting. A copier to a
// file is waited for up to fileGrace only, and then left to go on alone:
// without the pipe the file would have been the child's own, and a
// grandchild that holds it could write to it for as long as it lives
// without keeping Join waiting (Python's neither waits nor cuts it off).
func (o *Outputs) Wait(d time.Duration) {
	if o == nil || len(o.done) == 0 {
		return
	}
	deadline := time.Now().Add(d)
	for i, done := range o.done {
		wait := time.Until(deadline)
		if o.toFile[i] {
			wait = min(wait, fileGrace)
		}
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-done:
		case <-timer.C:
			if !o.toFile[i] {
				o.readEnds[i].Close()
			}
		}
		timer.Stop()
	}
}

// fileGrace is how long Wait waits for the copier of a pipe to a file once
// the child has exited. Its output is in the pipe already, so the copier
// gets to the end at once unless a grandchild holds the pipe.
const fileGrace = 100 * time.Millisecond

// Death returns how the child whose state is ps ended; killed says that
// this process killed it (so a SIGKILL is not the OOM killer's). Call it
// after Wait, so that the tail is complete.
func (o *Outputs) Death(ps *os.ProcessState, killed bool) Death {
	d := Death{MaxRSS: maxRSS(ps)}
	if ps != nil {
		d.CPU = ps.UserTime() + ps.SystemTime()
	}
	d.Code, d.Signal = ExitStatus(ps)
	if o == nil {
		return d
	}
	if o.stderr != nil {
		d.Stderr, d.Crash = o.stderr.String(), o.stderr.Crash()
	}
	if d.Signal == "SIGKILL" && !killed && o.oomOK {
		if n, ok := oomKills(); ok && n > o.oomBase {
			d.OOMKill = true
		}
	}
	return d
}

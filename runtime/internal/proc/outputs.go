//go:build unix || windows

package proc

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// OutputWait is how long a child's output may keep flowing after it exits
// (a grandchild may hold the pipe) before the parent stops copying it.
const OutputWait = 5 * time.Second

// Outputs copies a child's output through pipes: its stderr always, so
// that the parent keeps the tail of it (Death), and its stdout when it goes
// to a writer that is not a file or is labelled (Labeled), or to the same
// file as its stderr (one pipe then carries both, so that their lines keep
// the order the child wrote them in, as when the child had the file). Unlike
// os/exec's copiers, a copier stuck in a writer that never returns cannot
// keep Join from returning: after the child has exited, Wait gives up after
// a bound.
type Outputs struct {
	writeEnds []*os.File // the child's ends, closed in the parent after Start
	pipes     []*pipe

	ready     chan struct{} // closed once the child started, or failed to
	readyOnce sync.Once
	pid       int // the child's, once ready is closed

	stderr *tail // the tail of the child's stderr

	oomOnce sync.Once     // the stderr copier reads the OOM-kill count once
	oomRead chan struct{} // closed once it has
	oomBase uint64        // the system's OOM-kill count as the child started
	oomOK   bool          // oomBase is known
}

// pipe is one copier's side of a child's output pipe.
type pipe struct {
	r      *os.File
	done   chan struct{} // closed when the copier has returned
	toFile bool          // it writes to a file the child would have had itself
	// reading is true while the copier waits in Read with everything it
	// read written out; a copier that stays so after the child's exit
	// has had all the child wrote, and only a grandchild holds the pipe.
	reading atomic.Bool
}

// newOutputs returns the Outputs of a child about to start.
func newOutputs() *Outputs {
	return &Outputs{ready: make(chan struct{}), oomRead: make(chan struct{})}
}

// files returns what the child should get as its stdout and stderr (nil:
// this process's own).
func (o *Outputs) files(stdout, stderr io.Writer) (outFile, errFile *os.File, err error) {
	ow, olab := resolve(stdout, os.Stdout)
	ew, elab := resolve(stderr, os.Stderr)
	if olab == nil && elab == nil && sameFile(ow, ew) {
		errFile, err = o.pipe(ew, nil, true)
		return errFile, errFile, err
	}
	if f, ok := ow.(*os.File); ok && olab == nil {
		outFile = f
	} else if outFile, err = o.pipe(ow, olab, false); err != nil {
		return nil, nil, err
	}
	errFile, err = o.pipe(ew, elab, true)
	return outFile, errFile, err
}

// resolve returns the writer w stands for (def when it is nil) and its
// labels, if any.
func resolve(w io.Writer, def *os.File) (io.Writer, *Labeled) {
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
	return w, lab
}

// sameFile reports whether a and b are the same open file (a terminal, or
// a file or pipe that both name, as after 2>&1).
func sameFile(a, b io.Writer) bool {
	fa, ok := a.(*os.File)
	fb, ok2 := b.(*os.File)
	if !ok || !ok2 {
		return false
	}
	return fa == fb || fa.Fd() == fb.Fd() || sameOpenFile(fa, fb)
}

// pipe returns the write end of a pipe whose copier writes to w, labelled
// by lab when it is not nil, and, with keepTail, keeps its tail.
func (o *Outputs) pipe(w io.Writer, lab *Labeled, keepTail bool) (*os.File, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	var t *tail
	if keepTail {
		t = &tail{}
		o.stderr = t
	}
	_, toFile := w.(*os.File)
	p := &pipe{r: pr, done: make(chan struct{}), toFile: toFile}
	o.writeEnds = append(o.writeEnds, pw)
	o.pipes = append(o.pipes, p)
	go o.copy(w, p, lab, t)
	return pw, nil
}

// copyBufs holds the copiers' read buffers.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// copy copies p to dst until the child's end closes, labelled by lab when
// it is not nil, and keeps the tail in t when it is not nil. A writer that
// fails is given nothing more, but p is still read to its end, so that the
// child never blocks on a full pipe and the tail stays true.
func (o *Outputs) copy(dst io.Writer, p *pipe, lab *Labeled, t *tail) {
	defer close(p.done)
	defer p.r.Close()
	if t != nil {
		// Read here, beside the child's exec, rather than on Start's
		// path (it costs tens of microseconds), and only once it has
		// started: a failed Start leaves no file open behind it. A
		// child OOM-killed before this read is reported as killed by a
		// signal.
		if <-o.ready; o.pid != 0 {
			o.readOOMBase()
		}
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
		p.reading.Store(true)
		n, err := p.r.Read(buf)
		p.reading.Store(false)
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
	if lb != nil {
		if !failed {
			_ = lb.flush()
		}
		lb.close()
	}
}

// readOOMBase reads the system's OOM-kill count once; Death waits for it.
func (o *Outputs) readOOMBase() {
	o.oomOnce.Do(func() {
		o.oomBase, o.oomOK = oomKills()
		close(o.oomRead)
	})
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

// abandon releases everything after a failed start, the copiers' files
// included, before it returns.
func (o *Outputs) abandon() {
	o.started(0)
	for _, p := range o.pipes {
		p.r.Close()
	}
	for _, p := range o.pipes {
		<-p.done
	}
}

// Wait lets the copiers finish, the child having exited, for up to d, then
// closes the pipes (so a grandchild holding them gets EPIPE) and stops
// waiting. A copier to a file is different once it has copied all there
// is and waits for more for fileGrace: only a grandchild can be holding
// the pipe then, and the copier is left to go on alone, as the grandchild
// would have written to the file itself without the pipe, and without
// keeping Join waiting. A copier still writing (to a slow reader) is
// waited for, up to d: the end of a child's stderr, where a crash report
// is, is not cut off by a program that exits after Join.
func (o *Outputs) Wait(d time.Duration) {
	if o == nil {
		return
	}
	deadline := time.Now().Add(d)
	for _, p := range o.pipes {
		if !p.toFile {
			timer := time.NewTimer(max(time.Until(deadline), 0))
			select {
			case <-p.done:
			case <-timer.C:
				p.r.Close()
			}
			timer.Stop()
			continue
		}
		waitFileCopier(p, deadline)
	}
}

// waitFileCopier waits for the copier p to a file to end, until deadline
// or until it has waited in Read, with all it read written, for fileGrace.
func waitFileCopier(p *pipe, deadline time.Time) {
	tick := time.NewTicker(fileGrace / 10)
	defer tick.Stop()
	var idleSince time.Time
	for {
		select {
		case <-p.done:
			return
		case now := <-tick.C:
			switch {
			case !p.reading.Load():
				idleSince = time.Time{}
			case idleSince.IsZero():
				idleSince = now
			}
			if now.After(deadline) || (!idleSince.IsZero() && now.Sub(idleSince) >= fileGrace) {
				return // left to go on alone
			}
		}
	}
}

// fileGrace is how long a copier to a file must wait for more, after the
// child's exit, before Wait leaves it to go on alone.
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
	if d.Signal == "SIGKILL" && !killed && o.oomRead != nil && isClosed(o.oomRead) && o.oomOK {
		if n, ok := oomKills(); ok && n > o.oomBase {
			d.OOMKill = true
		}
	}
	return d
}

// isClosed reports whether c is closed, without waiting.
func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

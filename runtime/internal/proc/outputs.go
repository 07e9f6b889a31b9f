//go:build unix || windows

package proc

import (
	"io"
	"os"
	"time"
)

// OutputWait is how long a child's output may keep flowing after it exits
// (a grandchild may hold the pipe) before the parent stops copying it.
const OutputWait = 5 * time.Second

// Outputs copies a child's output to writers that are not files. Unlike
// os/exec's copiers, a copier stuck in a writer that never returns cannot
// keep Join from returning: after the child has exited, Wait gives up after
// a bound.
type Outputs struct {
	writeEnds []*os.File // the child's ends, closed in the parent after Start
	readEnds  []*os.File
	done      []chan struct{}
}

// file returns what the child should get for w: w itself when it is a
// file, def when w is nil, else the write end of a pipe copied into w.
func (o *Outputs) file(w io.Writer, def *os.File) (*os.File, error) {
	if w == nil {
		return def, nil
	}
	if f, ok := w.(*os.File); ok {
		return f, nil
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	o.writeEnds = append(o.writeEnds, pw)
	o.readEnds = append(o.readEnds, pr)
	o.done = append(o.done, done)
	go func() {
		defer close(done)
		_, _ = io.Copy(w, pr)
	}()
	return pw, nil
}

// started closes the parent's copies of the child's pipe ends.
func (o *Outputs) started() {
	for _, f := range o.writeEnds {
		f.Close()
	}
}

// abandon releases everything after a failed start.
func (o *Outputs) abandon() {
	o.started()
	for _, f := range o.readEnds {
		f.Close()
	}
}

// Wait lets the copiers finish for up to d, then closes the pipes (so a
// grandchild holding them gets EPIPE) and stops waiting.
func (o *Outputs) Wait(d time.Duration) {
	if o == nil || len(o.done) == 0 {
		return
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for _, done := range o.done {
		select {
		case <-done:
		case <-timer.C:
			for _, f := range o.readEnds {
				f.Close()
			}
			return
		}
	}
	for _, f := range o.readEnds {
		f.Close()
	}
}

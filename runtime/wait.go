package mp

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
)

// Waitable is what Wait watches: a *Conn or *Queue is ready when a value
// (or the end of the stream) can be received without waiting, a *Process
// when it has ended. Only the runtime's types implement it.
type Waitable interface {
	waitable() (f *os.File, done <-chan struct{})
}

func (c *Conn[T]) waitable() (*os.File, <-chan struct{}) {
	if !c.canRecv {
		return nil, nil
	}
	return c.sock.File(), nil
}

func (q *Queue[T]) waitable() (*os.File, <-chan struct{}) { return q.get.File(), nil }

func (p *Process) waitable() (*os.File, <-chan struct{}) { return nil, p.Sentinel() }

// Wait waits until at least one of objs is ready and returns those that are
// (Python's multiprocessing.connection.wait). The descriptors of Conns and
// Queues are watched with poll(2), processes through their sentinels, all
// at once.
func Wait(objs ...Waitable) ([]Waitable, error) { return WaitContext(context.Background(), objs...) }

// WaitTimeout is Wait that gives up after d with a *TimeoutError (where
// Python's wait(objs, timeout) returns an empty list); with d <= 0 it looks
// once.
func WaitTimeout(d time.Duration, objs ...Waitable) ([]Waitable, error) {
	ctx, cancel := timeoutCtx(d)
	defer cancel()
	ready, err := WaitContext(ctx, objs...)
	return ready, within(d, err)
}

// WaitContext is Wait that gives up when ctx is done: with a *TimeoutError
// once its deadline passed, else with ctx.Err().
func WaitContext(ctx context.Context, objs ...Waitable) ([]Waitable, error) {
	start := startOf(ctx)
	var files []*os.File
	var fileObjs []Waitable
	var chans []<-chan struct{}
	var chanObjs []Waitable
	for _, o := range objs {
		f, ch := o.waitable()
		switch {
		case f != nil:
			files, fileObjs = append(files, f), append(fileObjs, o)
		case ch != nil:
			chans, chanObjs = append(chans, ch), append(chanObjs, o)
		default:
			return nil, fmt.Errorf("mp: Wait: %T cannot be waited on (the sending end of a one-way pipe?)", o)
		}
	}
	for {
		ready, err := fdio.Poll(files, nil, 0)
		if err != nil {
			return nil, err
		}
		out := readyOf(fileObjs, ready, chanObjs, chans)
		if len(out) > 0 {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, giveUp(ctx, "Wait", start)
		}
		if err := waitAny(ctx, files, chans); err != nil {
			return nil, err
		}
	}
}

// readyOf lists the objects whose descriptor is ready or whose channel is
// closed.
func readyOf(fileObjs []Waitable, ready []bool, chanObjs []Waitable, chans []<-chan struct{}) []Waitable {
	var out []Waitable
	for i, ok := range ready {
		k, keeps := fileObjs[i].(interface{ hasAhead() bool })
		if ok || keeps && k.hasAhead() {
			out = append(out, fileObjs[i])
		}
	}
	for i, ch := range chans {
		select {
		case <-ch:
			out = append(out, chanObjs[i])
		default:
		}
	}
	return out
}

// waitAny blocks until a descriptor is ready, a channel is closed or ctx is
// done. The channels and ctx wake the poll through a pipe.
func waitAny(ctx context.Context, files []*os.File, chans []<-chan struct{}) error {
	if len(files) == 0 {
		cases := make([]reflect.SelectCase, 0, len(chans)+1)
		for _, ch := range append(chans, ctx.Done()) {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
		}
		reflect.Select(cases) // a nil ctx.Done never fires
		return nil
	}
	if len(chans) == 0 && ctx.Done() == nil {
		_, err := fdio.Poll(files, nil, -1)
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("mp: Wait: %w", err)
	}
	defer r.Close()
	stop := make(chan struct{})
	wake := func() { _, _ = w.Write([]byte{1}) }
	done := make(chan struct{})
	watchers := 0
	watch := func(ch <-chan struct{}) {
		watchers++
		go func() {
			defer func() { done <- struct{}{} }()
			select {
			case <-ch:
				wake()
			case <-stop:
			}
		}()
	}
	for _, ch := range chans {
		watch(ch)
	}
	if ctx.Done() != nil {
		watch(ctx.Done())
	}
	_, err = fdio.Poll(files, r, -1)
	close(stop)
	for range watchers {
		<-done
	}
	w.Close()
	return err
}

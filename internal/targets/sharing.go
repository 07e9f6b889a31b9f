package targets

import (
	"context"
	"fmt"
	"io"
	"strings"

	mp "github.com/mpgen/mpgen/runtime"
)

// The targets in this file serve the tests of pipes and queues: they take
// handles as ordinary parameters.

// Upper answers each string received on c with its upper case, until the
// other end closes.
//
//mp:target
func Upper(c *mp.Conn[string]) error {
	for {
		s, err := c.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.Send(strings.ToUpper(s)); err != nil {
			return err
		}
	}
}

// SendBytes sends n bytes of value b on c, then closes its end.
//
//mp:target
func SendBytes(c *mp.Conn[[]byte], n int, b byte) error {
	data := make([]byte, n)
	for i := range data {
		data[i] = b
	}
	if err := c.Send(data); err != nil {
		return err
	}
	return c.Close()
}

// Produce puts the integers from..to-1 on q.
//
//mp:target
func Produce(q *mp.Queue[int], from, to int) error {
	for i := from; i < to; i++ {
		if err := q.Put(i); err != nil {
			return fmt.Errorf("put %d: %w", i, err)
		}
	}
	return nil
}

// Consume gets integers from in until it is shut down and puts their count
// and sum on out.
//
//mp:target
func Consume(ctx context.Context, in *mp.Queue[int], out *mp.Queue[[3]int]) error {
	var n, sum, sq int
	for {
		v, err := in.GetContext(ctx)
		if err == mp.ErrQueueShutDown {
			return out.Put([3]int{n, sum, sq})
		}
		if err != nil {
			return err
		}
		n++
		sum += v
		sq += v * v
	}
}

// PassConn sends a new pipe's end through q and answers on the other end:
// a handle travelling inside a queue.
//
//mp:target
func PassConn(q *mp.Queue[*mp.Conn[string]]) error {
	a, b, err := mp.Pipe[string](true)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := q.Put(b); err != nil {
		return err
	}
	b.Close()
	return a.Send("through the queue")
}

// TakeSome gets n integers from q and returns their sum; whatever it kept
// from a batch goes back to q when it returns.
//
//mp:target
func TakeSome(q *mp.Queue[int], n int) (int, error) {
	sum := 0
	for range n {
		v, err := q.Get()
		if err != nil {
			return sum, err
		}
		sum += v
	}
	return sum, nil
}

// TakeSomeThenWait gets n integers from q and sends their sum on c; it
// returns the sum once something arrives on c (or c ends), so that its
// parent can fill q while it holds what it kept from a batch.
//
//mp:target
func TakeSomeThenWait(q *mp.Queue[int], n int, c *mp.Conn[int]) (int, error) {
	sum, err := TakeSome(q, n)
	if err != nil {
		return sum, err
	}
	if err := c.Send(sum); err != nil {
		return sum, err
	}
	_, _ = c.Recv()
	return sum, nil
}

// Drain gets integers from q, marking each done, until q is shut down, and
// returns how many it got.
//
//mp:target
func Drain(ctx context.Context, q *mp.Queue[int]) (int, error) {
	n := 0
	for {
		_, err := q.GetContext(ctx)
		if err == mp.ErrQueueShutDown {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
		if err := q.TaskDone(); err != nil {
			return n, err
		}
	}
}

// sink is the queue a pool worker's initializer hands to Emit.
var sink *mp.Queue[int]

// SetSink is a pool initializer: it keeps q for the worker's later calls,
// as Python programs keep a queue passed in initargs in a global.
//
//mp:target
func SetSink(q *mp.Queue[int]) { sink = q }

// Emit puts v on the queue the worker's initializer kept.
//
//mp:target
func Emit(v int) error {
	if sink == nil {
		return fmt.Errorf("no sink: the initializer did not run")
	}
	return sink.Put(v)
}

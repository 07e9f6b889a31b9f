package targets

import (
	"encoding/binary"
	"io"

	mp "github.com/mpgen/mpgen/runtime"
)

// ByteLen returns len(data): the benchmarks send it a large argument and
// get a small result back, so the time measured is the argument's trip.
//
//mp:target
func ByteLen(data []byte) int { return len(data) }

// The targets below serve the Pipe and Queue benchmarks of issue 4
// (bench/sharing_test.go); their Python peers are in
// bench/python/sharing.py.

// echoBytesMax is the largest message EchoBytes answers with itself, as
// the benchmarks' socketpair floor child does (bench/main_test.go).
const echoBytesMax = 4 << 10

// EchoBytes answers each message received on c with the message itself
// when it is at most 4 KiB, or with its length (8 bytes, big-endian)
// otherwise, until the other end closes: the socketpair floor child's
// protocol, over a Conn.
//
//mp:target
func EchoBytes(c *mp.Conn[[]byte]) error {
	for {
		b, err := c.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if len(b) > echoBytesMax {
			b = binary.BigEndian.AppendUint64(b[:0], uint64(len(b)))
		}
		if err := c.Send(b); err != nil {
			return err
		}
	}
}

// Ping is a small record, the Go peer of the tuple ("ping", 42, 3.14) that
// Python's benchmark sends through a Connection; it travels through the
// codec (gob), as a struct does.
type Ping struct {
	S string
	I int
	F float64
}

// EchoPing answers each Ping received on c with itself, until the other
// end closes.
//
//mp:target
func EchoPing(c *mp.Conn[Ping]) error {
	for {
		p, err := c.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.Send(p); err != nil {
			return err
		}
	}
}

// SumBatches gets integers from in; each -1 ends a batch, whose count and
// sum it puts on out. It returns when in is shut down or closed.
//
//mp:target
func SumBatches(in *mp.Queue[int], out *mp.Queue[[2]int]) error {
	var n, sum int
	for {
		v, err := in.Get()
		if err == mp.ErrQueueShutDown {
			return nil
		}
		if err != nil {
			return err
		}
		if v == -1 {
			if err := out.Put([2]int{n, sum}); err != nil {
				return err
			}
			n, sum = 0, 0
			continue
		}
		n++
		sum += v
	}
}

// ProduceBatches puts, for each n received on req, the integers 0..n-1 on
// out and then -1, until the other end of req closes.
//
//mp:target
func ProduceBatches(req *mp.Conn[int], out *mp.Queue[int]) error {
	for {
		n, err := req.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for i := range n {
			if err := out.Put(i); err != nil {
				return err
			}
		}
		if err := out.Put(-1); err != nil {
			return err
		}
	}
}

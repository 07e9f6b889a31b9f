package mp

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/mpgen/mpgen/runtime/internal/wire"
)

var maxFrameSize atomic.Int64

func init() { maxFrameSize.Store(DefaultMaxFrameSize) }

// SetMaxFrameSize sets the largest frame (one encoded call, result or error)
// this process will read, and the largest value (encoded) it sends or
// receives through a Queue or Conn. A longer frame is refused before any
// memory is allocated for it, and the call fails with a *ProtocolError; but
// the sender checks first, against its own limit: Start, pool calls, Put and
// Send refuse a value over it with an error that matches ErrTooLarge, and a
// child reports a result over it as that error. n <= 0 restores
// DefaultMaxFrameSize. A child inherits the limit of its parent when it
// starts. It returns the previous limit.
func SetMaxFrameSize(n int64) (previous int64) {
	if n <= 0 || n > math.MaxUint32 {
		n = DefaultMaxFrameSize
	}
	return maxFrameSize.Swap(n)
}

// frameOver reports whether a frame whose body is body bytes is over the
// frame limit, which its receiver applies too (a child has its parent's),
// and says by how much: the frame's length as the receiver counts it (kind,
// call id and body) and the limit.
func frameOver(body int) (n, limit int64, over bool) {
	n = int64(wire.HeaderLen-4) + int64(body)
	limit = maxFrameSize.Load()
	return n, limit, n > limit
}

// errTooLarge is the error of a frame of n bytes over limit: what carries
// what, in the words of its sender.
func errTooLarge(what string, n, limit int64) error {
	return fmt.Errorf("%w: %s would be a %d-byte frame, limit %d (see SetMaxFrameSize)", ErrTooLarge, what, n, limit)
}

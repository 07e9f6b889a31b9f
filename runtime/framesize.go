package mp

import (
	"math"
	"sync/atomic"
)

var maxFrameSize atomic.Int64

func init() { maxFrameSize.Store(DefaultMaxFrameSize) }

// SetMaxFrameSize sets the largest frame (one encoded call, result or error)
// this process will read; a longer frame is refused before any memory is
// allocated for it, and the call fails with a *ProtocolError. n <= 0 restores
// DefaultMaxFrameSize. A child inherits the limit of its parent. It returns
// the previous limit.
func SetMaxFrameSize(n int64) (previous int64) {
	if n <= 0 || n > math.MaxUint32 {
		n = DefaultMaxFrameSize
	}
	return maxFrameSize.Swap(n)
}

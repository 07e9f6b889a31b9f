package mp

import (
	"math"
	"sync/atomic"
)

// DefaultMaxFrameSize is the largest frame a process accepts unless
// SetMaxFrameSize says otherwise: 1 GiB.
const DefaultMaxFrameSize = 1 << 30

var maxFrameSize atomic.Int64

func init() { maxFrameSize.Store(DefaultMaxFrameSize) }

// SetMaxFrameSize sets the largest frame (one encoded call, result or error)
// this process will read; a longer frame is refused before any memory is
// allocated for it, and the call fails with a *ProtocolError. n <= 0 restores
// DefaultMaxFrameSize. A child inherits the limit of its parent.
func SetMaxFrameSize(n int64) {
	if n <= 0 || n > math.MaxUint32 {
		n = DefaultMaxFrameSize
	}
	maxFrameSize.Store(n)
}

// MaxFrameSize returns the limit set by SetMaxFrameSize.
func MaxFrameSize() int64 { return maxFrameSize.Load() }

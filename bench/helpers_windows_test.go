//go:build windows

package bench

import (
	"errors"
	"os"
)

// canSpawn is true: on Windows the runtime starts children over a named
// pipe (runtime/internal/proc), and the floor is a bare re-exec.
const canSpawn = true

// socketpair has no Windows counterpart here: the benchmarks of a
// socketpair floor and of pipes and queues skip.
func socketpair() (parent, child *os.File, err error) {
	return nil, nil, errors.ErrUnsupported
}

func seqpacketpair() (parent, child *os.File, err error) {
	return nil, nil, errors.ErrUnsupported
}

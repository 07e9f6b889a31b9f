//go:build !unix && !windows

package bench

import (
	"errors"
	"os"
)

// canSpawn reports whether this platform can start children: the runtime
// needs a Unix socketpair, and so does the socketpair floor.
const canSpawn = false

// socketpair is Unix-only, as the runtime's control channel is for now.
func socketpair() (parent, child *os.File, err error) {
	return nil, nil, errors.ErrUnsupported
}

func seqpacketpair() (parent, child *os.File, err error) {
	return nil, nil, errors.ErrUnsupported
}

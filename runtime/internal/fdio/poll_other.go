//go:build !unix && !windows

package fdio

import "os"

// Poll: off Unix and Windows there are no Conns or Queues to watch.
func Poll(files []*os.File, wake *os.File, timeout int) ([]bool, error) {
	if len(files) == 0 && wake == nil {
		return nil, nil
	}
	return nil, ErrUnsupported
}

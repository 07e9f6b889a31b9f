//go:build !unix

package fdio

import "os"

// Poll: off Unix there are no Conns or Queues to watch yet.
func Poll(files []*os.File, wake *os.File, timeout int) ([]bool, error) {
	if len(files) == 0 && wake == nil {
		return nil, nil
	}
	return nil, ErrUnsupported
}

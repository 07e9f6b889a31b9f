//go:build !unix

package mp

import "os"

// pollFiles: off Unix there are no Conns or Queues to watch yet.
func pollFiles(files []*os.File, wake *os.File, timeout int) ([]bool, error) {
	if len(files) == 0 && wake == nil {
		return nil, nil
	}
	return nil, errUnsupported
}

//go:build !unix

package mp

import (
	"io"
	"os"
)

// Off Unix no descriptors travel: children cannot be started there yet.

type rightsWriter struct {
	f     *os.File
	files []*os.File
}

func (w *rightsWriter) Write(b []byte) (int, error) {
	if len(w.files) > 0 {
		return 0, errUnsupported
	}
	return w.f.Write(b)
}

type fdReader struct{ r io.Reader }

func newFDReader(f *os.File) *fdReader { return &fdReader{r: f} }

func (r *fdReader) Read(p []byte) (int, error) { return r.r.Read(p) }

func (r *fdReader) pending() bool { return false }

func (r *fdReader) take(n int) ([]*os.File, error) {
	if n > 0 {
		return nil, errUnsupported
	}
	return nil, nil
}

func dupFile(f *os.File) (*os.File, error) { return nil, errUnsupported }

func rawFD(f *os.File) (int, error) { return -1, errUnsupported }

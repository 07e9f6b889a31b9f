//go:build !unix && !windows

package fdio

import (
	"io"
	"os"
)

// Off Unix and Windows no descriptors travel: children cannot be started there.

type RightsWriter struct {
	f     *os.File
	files []*os.File
}

func NewRightsWriter(f *os.File, files []*os.File) *RightsWriter {
	return &RightsWriter{f: f, files: files}
}

func (w *RightsWriter) Write(b []byte) (int, error) {
	if len(w.files) > 0 {
		return 0, ErrUnsupported
	}
	return w.f.Write(b)
}

type Reader struct{ r io.Reader }

func NewReader(f *os.File) *Reader { return &Reader{r: f} }

func (r *Reader) Read(p []byte) (int, error) { return r.r.Read(p) }

func (r *Reader) Pending() bool { return false }

func (r *Reader) Take(n int) ([]*os.File, error) {
	if n > 0 {
		return nil, ErrUnsupported
	}
	return nil, nil
}

func Dup(f *os.File) (*os.File, error) { return nil, ErrUnsupported }

func rawFD(f *os.File) (int, error) { return -1, ErrUnsupported }

//go:build windows

package fdio

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/windows"
)

// Handles do not travel beside control frames yet: a RightsWriter with
// files fails with ErrUnsupported.

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

// Dup duplicates f's handle, not inheritable, so that a call owns handles
// its caller may close at once.
func Dup(f *os.File) (*os.File, error) {
	h, err := rawHandle(f)
	if err != nil {
		return nil, err
	}
	var d windows.Handle
	if err := windows.DuplicateHandle(windows.CurrentProcess(), h, windows.CurrentProcess(), &d, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
		return nil, fmt.Errorf("DuplicateHandle: %w", err)
	}
	return os.NewFile(uintptr(d), f.Name()), nil
}

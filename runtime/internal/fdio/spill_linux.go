//go:build !mpgen_portable

package fdio

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Spill returns an anonymous memory file (memfd) holding data. (The
// portable build uses spill_other.go's unlinked temporary file, as macOS
// does.)
func Spill(data []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("mpgen-spill", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("mp: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "mpgen-spill")
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("mp: spill a value: %w", err)
	}
	return f, nil
}

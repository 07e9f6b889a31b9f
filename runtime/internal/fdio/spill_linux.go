package fdio

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Spill returns an anonymous memory file (memfd) holding data.
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

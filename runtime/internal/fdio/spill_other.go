//go:build (!linux || mpgen_portable) && !windows

package fdio

import (
	"fmt"
	"os"
)

// Spill returns an unlinked temporary file holding data.
func Spill(data []byte) (*os.File, error) {
	f, err := os.CreateTemp("", "mpgen-spill-*")
	if err != nil {
		return nil, fmt.Errorf("mp: spill a value: %w", err)
	}
	os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("mp: spill a value: %w", err)
	}
	return f, nil
}

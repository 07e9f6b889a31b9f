//go:build !linux

package targets

import (
	"errors"
	"os"
)

func limitAddressSpace(extra int64) error {
	return errors.New("limiting the address space needs Linux")
}

func selfImage() (string, error) { return os.Executable() }

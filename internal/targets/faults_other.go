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

func lowerFDLimit(n uint64) ([]*os.File, error) {
	return nil, errors.New("lowering the descriptor limit needs Linux")
}

func raiseFileLimit() error { return errors.New("resource limits need Linux") }

func ignoreCPULimitSignal() {}

func forbidden(what string, pid int) error { return errors.New("sandboxes need Linux") }

func forbiddenAt(what, arg string) error { return errors.New("sandboxes need Linux") }

//go:build windows

package fdio

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// Spill returns a temporary file holding data, deleted when its last
// handle (in any process) closes.
func Spill(data []byte) (*os.File, error) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	name := filepath.Join(os.TempDir(), "mpgen-spill-"+hex.EncodeToString(rnd[:]))
	name16, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return nil, err
	}
	h, err := windows.CreateFile(name16, windows.GENERIC_READ|windows.GENERIC_WRITE,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil,
		windows.CREATE_NEW, windows.FILE_ATTRIBUTE_TEMPORARY|windows.FILE_FLAG_DELETE_ON_CLOSE, 0)
	if err != nil {
		return nil, fmt.Errorf("mp: spill a value: %w", err)
	}
	f := os.NewFile(uintptr(h), name)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("mp: spill a value: %w", err)
	}
	return f, nil
}

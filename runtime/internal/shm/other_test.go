//go:build !unix && !windows

package shm

import (
	"errors"
	"testing"
)

// Off Linux every constructor says what is missing.
func TestUnsupported(t *testing.T) {
	if _, err := New(KindLock, DataOffset); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("New: %v", err)
	}
	if _, err := Create("x", 1); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Create: %v", err)
	}
	if _, err := Create(".x", 1); err == nil || errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Create of a bad name: %v", err)
	}
	if _, err := Attach("x"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Attach: %v", err)
	}
	if _, err := Sweep(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Sweep: %v", err)
	}
	if _, err := ImportBlock(nil, nil); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("ImportBlock: %v", err)
	}
}

//go:build unix

package shm

import (
	"os"
	"strings"
	"testing"
)

// A plain file is not a segment: it is mapped (it cannot be sealed, and a
// portable segment is one), and refused by its header.
func TestImportRefusesPlainFile(t *testing.T) {
	p, err := os.CreateTemp(t.TempDir(), "segment")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(p, KindLock, 4096); err == nil || !strings.Contains(err.Error(), "magic 0x0") {
		t.Fatalf("a plain file: %v", err)
	}
}

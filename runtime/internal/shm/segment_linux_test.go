package shm

import (
	"os"
	"strings"
	"testing"
)

// The seals refuse to resize a segment's file, from any holder.
func TestSealsRefuseResize(t *testing.T) {
	s := segment(t, KindValue, DataOffset)
	f := dup(t, s.File())
	defer f.Close()
	size := int64(len(s.Mem()))
	for _, n := range []int64{0, size / 2, size * 2} {
		if err := f.Truncate(n); err == nil {
			t.Fatalf("Truncate(%d) of a sealed segment succeeded", n)
		}
	}
	if st, err := f.Stat(); err != nil || st.Size() != size {
		t.Fatalf("size %v, %v", st.Size(), err)
	}
}

// Import maps only a sealed segment: not a memfd whose size anyone may
// change; a plain file, which cannot be sealed, is refused by its header.
func TestImportRefusesUnsealed(t *testing.T) {
	// A memfd whose size anyone may change.
	u, sealed, err := memfd("unsealed")
	if err != nil || !sealed {
		t.Skipf("no memfd: %v", err)
	}
	defer u.Close()
	if err := u.Truncate(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(u, KindLock, 4096); err == nil || !strings.Contains(err.Error(), "not sealed") {
		t.Fatalf("an unsealed memfd: %v", err)
	}
	// A plain file cannot be sealed: it is mapped, and refused by its header.
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

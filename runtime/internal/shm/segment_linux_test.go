//go:build linux && !mpgen_portable

package shm

import (
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

// Import refuses a memfd whose size anyone may change.
func TestImportRefusesUnsealed(t *testing.T) {
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
}

package fdio

import (
	"bytes"
	"testing"
)

// A spilled buffer reads back whole, from the file's start, and the file
// has exactly its size.
func TestSpill(t *testing.T) {
	data := make([]byte, 3<<20+17)
	for i := range data {
		data[i] = byte(i * 7)
	}
	f, err := Spill(data)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != int64(len(data)) {
		t.Fatalf("spill file of %d bytes, want %d", st.Size(), len(data))
	}
	got := make([]byte, len(data))
	if _, err := f.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("the spill file reads back other bytes")
	}
}

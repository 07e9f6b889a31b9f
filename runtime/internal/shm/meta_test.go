package shm

import (
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	w := NewMeta(KindValue, 4096)
	w.Uvarint(5)
	w.Str("abc")
	w.Uvarint(1 << 40)
	size, r, err := ReadMeta([]byte(w), KindValue)
	if err != nil || size != 4096 {
		t.Fatalf("ReadMeta: size %d, %v", size, err)
	}
	if a, s, b := r.Uvarint(), r.Str(), r.Uvarint(); a != 5 || s != "abc" || b != 1<<40 || r.Err() != nil {
		t.Fatalf("fields %d %q %d, %v", a, s, b, r.Err())
	}
	if r.Uvarint() != 0 || r.Err() == nil {
		t.Fatal("a read past the end did not fail")
	}
	if r.Str() != "" || r.Err() == nil {
		t.Fatal("the first error did not stick")
	}
}

func TestReadMetaRefuses(t *testing.T) {
	valid := []byte(NewMeta(KindLock, DataOffset))
	other := []byte(NewMeta(KindValue, DataOffset))
	small := []byte(NewMeta(KindLock, DataOffset-1))
	huge := []byte(NewMeta(KindLock, 1<<47))
	long := append([]byte(NewMeta(KindLock, DataOffset)), make([]byte, maxMetaBytes)...)
	cases := []struct {
		meta []byte
		want string
	}{
		{nil, "metadata of 0 bytes"},
		{long, "metadata of"},
		{append([]byte{2}, valid[1:]...), "metadata version 2"},
		{other, "descriptor is a Value, not a Lock"},
		{valid[:2], "truncated metadata"},
		{small, "segment size 63 out of range"},
		{huge, "out of range"},
	}
	for _, c := range cases {
		if _, _, err := ReadMeta(c.meta, KindLock); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadMeta(%x): %v, want an error with %q", c.meta, err, c.want)
		}
	}
	if _, _, err := ReadMeta(valid, KindLock); err != nil {
		t.Fatal(err)
	}
}

func TestStrTruncated(t *testing.T) {
	w := NewMeta(KindArray, DataOffset)
	w.Uvarint(10) // a string of 10 bytes, with 3 present
	b := append([]byte(w), "abc"...)
	_, r, err := ReadMeta(b, KindArray)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Str(); s != "" || r.Err() == nil {
		t.Fatalf("Str %q, %v: want a truncation error", s, r.Err())
	}
}

package shm

import (
	"strings"
	"testing"
)

func TestMetaRoundTrip(t *testing.T) {
	w := NewMeta(KindValue, 4096)
	w.Uint(5)
	w.Str("abc")
	w.Uint(1 << 40)
	size, r, err := ReadMeta(w.Bytes(), KindValue)
	if err != nil || size != 4096 {
		t.Fatalf("ReadMeta: size %d, %v", size, err)
	}
	if a, s, b := r.Uint(), r.Str(), r.Uint(); a != 5 || s != "abc" || b != 1<<40 || r.Err() != nil {
		t.Fatalf("fields %d %q %d, %v", a, s, b, r.Err())
	}
	if r.Uint() != 0 || r.Err() == nil {
		t.Fatal("a read past the end did not fail")
	}
	if r.Str() != "" || r.Err() == nil {
		t.Fatal("the first error did not stick")
	}
}

func TestReadMetaRefuses(t *testing.T) {
	valid := NewMeta(KindLock, DataOffset).Bytes()
	other := NewMeta(KindValue, DataOffset).Bytes()
	small := NewMeta(KindLock, DataOffset-1).Bytes()
	huge := NewMeta(KindLock, 1<<47).Bytes()
	long := append(NewMeta(KindLock, DataOffset).Bytes(), make([]byte, maxMetaBytes)...)
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
	w.Uint(10) // a string of 10 bytes, with 3 present
	b := append(w.Bytes(), "abc"...)
	_, r, err := ReadMeta(b, KindArray)
	if err != nil {
		t.Fatal(err)
	}
	if s := r.Str(); s != "" || r.Err() == nil {
		t.Fatalf("Str %q, %v: want a truncation error", s, r.Err())
	}
}

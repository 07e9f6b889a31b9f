package wire

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
)

// recordWriter keeps each Write's slice as given (the writer may reuse its
// buffer afterwards) and a copy of its bytes.
type recordWriter struct{ writes, copies [][]byte }

func (w *recordWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, p)
	w.copies = append(w.copies, bytes.Clone(p))
	return len(p), nil
}

// WriteFrames puts a prefix and the small pieces of a frame in one write and
// writes a big piece from where it lies; what arrives is the prefix and
// then the frame of the joined pieces.
func TestWriteFramesPieces(t *testing.T) {
	prefix := AppendFrame(nil, KindHello, 0, []byte("hi"))
	big := bytes.Repeat([]byte{3}, BigPiece)
	body := Payload{[]byte("a"), []byte("bc"), big, []byte("d")}

	var w recordWriter
	if err := WriteFrames(&w, prefix, KindCall, 9, body); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 3 || &w.writes[1][0] != &big[0] {
		t.Fatalf("%d writes; want 3, the big piece written as given", len(w.writes))
	}
	stream := bytes.Join(w.copies, nil)
	want := AppendFrame(append([]byte(nil), prefix...), KindCall, 9, body.Bytes())
	if !bytes.Equal(stream, want) {
		t.Fatal("the written stream is not the prefix and the frame")
	}

	w = recordWriter{}
	if err := WriteFrames(&w, prefix, KindCall, 9, Payload{[]byte("a"), []byte("bc")}); err != nil || len(w.writes) != 1 {
		t.Fatalf("small pieces in %d writes, %v", len(w.writes), err)
	}

	// Read back: the hello, then the call, then a clean end.
	r := bytes.NewReader(stream)
	for _, want := range []struct {
		kind Kind
		id   uint64
		body []byte
	}{{KindHello, 0, []byte("hi")}, {KindCall, 9, body.Bytes()}} {
		f, err := ReadPeerFrame(r, 1<<20)
		if err != nil || f.Kind != want.kind || f.ID != want.id || !bytes.Equal(f.Body, want.body) {
			t.Fatalf("read %v %d (%d bytes), %v", f.Kind, f.ID, len(f.Body), err)
		}
	}
	if _, err := ReadPeerFrame(r, 1<<20); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

// A body that cannot fit a frame's 32-bit length is refused before anything
// is written.
func TestWriteFramesTooLarge(t *testing.T) {
	chunk := make([]byte, 1<<20)
	body := make(Payload, (math.MaxUint32>>20)+1) // 4 GiB of the same MiB
	for i := range body {
		body[i] = chunk
	}
	var w recordWriter
	err := WriteFrames(&w, nil, KindResult, 1, body)
	if !errors.Is(err, ErrFrameTooLarge) || len(w.writes) != 0 {
		t.Fatalf("4 GiB body: %v after %d writes", err, len(w.writes))
	}
}

// Both readers refuse a length over the limit, and one shorter than the
// header, with the errors a caller reports.
func TestReadFrameLimits(t *testing.T) {
	frame := AppendFrame(nil, KindResult, 1, []byte("12345"))
	for _, read := range []func(io.Reader, int64) (Frame, error){ReadFrame, ReadPeerFrame} {
		if f, err := read(bytes.NewReader(frame), 9+5); err != nil || string(f.Body) != "12345" {
			t.Fatalf("frame at the limit: %q, %v", f.Body, err)
		}
		_, err := read(bytes.NewReader(frame), 9+4)
		if !errors.Is(err, ErrFrameTooLarge) || !strings.Contains(err.Error(), "14 bytes, limit 13") {
			t.Fatalf("frame over the limit: %v", err)
		}
		_, err = read(bytes.NewReader([]byte{0, 0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 1}), 100)
		if err == nil || !strings.Contains(err.Error(), "frame length 8 is shorter than its header") {
			t.Fatalf("length under a header: %v", err)
		}
		_, err = read(bytes.NewReader(frame[:len(frame)-1]), 100)
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "truncated result frame") {
			t.Fatalf("frame cut short: %v", err)
		}
	}
}

// A header of zeros ends the stream: ReadFrame returns io.EOF, as at the
// end of a socket whose peer shut its side down; a zero length with
// anything else in the header is a protocol error.
func TestEndOfStream(t *testing.T) {
	if _, err := ReadFrame(bytes.NewReader(EndOfStream[:]), 1<<20); err != io.EOF {
		t.Fatalf("EndOfStream: %v, want io.EOF", err)
	}
	hdr := EndOfStream
	hdr[4] = byte(KindCall)
	if _, err := ReadFrame(bytes.NewReader(hdr[:]), 1<<20); err == nil || err == io.EOF {
		t.Fatalf("a zero length with a kind: %v, want a protocol error", err)
	}
}

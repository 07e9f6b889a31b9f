//go:build unix && (!linux || mpgen_portable)

package fdio

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"testing"
)

// A message longer than a record rides in a socket of its own, which
// holds all of it; readRecord reads it back, and reads one from a spill
// file too (what spillMsg falls back to), closing either.
func TestRecordBeside(t *testing.T) {
	msg := make([]byte, 3*MaxInline+5)
	for i := range msg {
		msg[i] = byte(i * 13)
	}
	sock, kind, err := spillMsg(msg)
	if err != nil || kind != recordSocket {
		t.Fatalf("spillMsg: kind %d, %v; want a socket", kind, err)
	}
	file, err := Spill(msg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind byte
		f    *os.File
	}{{recordSocket, sock}, {recordFile, file}} {
		r, w := pipe(t)
		w.Close()
		hdr := header(c.kind, len(msg))
		buf := make([]byte, MaxMsg)
		n, files, err := readRecord(hdr, recordSize, 0, []*os.File{r, c.f}, buf)
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("kind %d: %d bytes, %v", c.kind, n, err)
		}
		if len(files) != 1 || files[0] != r {
			t.Fatalf("kind %d: the files left are %v, want the message's own", c.kind, files)
		}
		if _, err := c.f.Stat(); err == nil {
			t.Errorf("kind %d: the file the message rode in is still open", c.kind)
		}
	}
}

// readRecord refuses records it cannot trust, and says the stream ended
// for a receive of nothing.
func TestRecordRefused(t *testing.T) {
	buf := make([]byte, MaxMsg)
	for _, c := range []struct {
		name string
		hdr  [recordHeader]byte
		n    int
		want string
	}{
		{"part of a record", header(recordInline, 1), recordSize - 1, "out of step"},
		{"no magic", [recordHeader]byte{}, recordSize, "out of step"},
		{"an inline message too long", header(recordInline, MaxInline+1), recordSize, "carries"},
		{"an unknown kind", header(9, 1), recordSize, "unknown kind"},
		{"a spilled message without its file", header(recordFile, 1), recordSize, "without its file"},
		{"the end", [recordHeader]byte{}, 0, "EOF"},
	} {
		_, _, err := readRecord(c.hdr, c.n, 0, nil, buf)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

// header is a record header of kind for a message of size bytes.
func header(kind byte, size int) [recordHeader]byte {
	var hdr [recordHeader]byte
	hdr[0], hdr[1] = recordMagic, kind
	binary.LittleEndian.PutUint32(hdr[4:], uint32(size))
	return hdr
}

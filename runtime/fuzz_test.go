package mp

// Native fuzz tests of everything that parses bytes from the other end of a
// control channel: frames, the hello, call, error and panic bodies, and the
// arguments a child decodes with a codec. None may panic on any input, a
// frame longer than the limit is refused before its body is allocated, and
// every valid encoding decodes back to what was encoded.
//
// Run one for a while with, for instance,
//
//	go test -run '^$' -fuzz '^FuzzReadFrame$' -fuzztime 20s ./runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// maxReadReader is a reader over data that records the largest buffer it
// was asked to fill: readFrame reads a frame's body straight into the
// buffer it allocated for it, so this bounds what it allocated.
type maxReadReader struct {
	r       *bytes.Reader
	maxRead int
}

func (m *maxReadReader) Read(p []byte) (int, error) {
	m.maxRead = max(m.maxRead, len(p))
	return m.r.Read(p)
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{}, uint16(64), false)
	f.Add(appendFrame(nil, kindResult, 1, encodeResult(encodedValue{present: true, data: []byte("x")})), uint16(64), false)
	f.Add(appendFrame(nil, kindCall, math.MaxUint64, []byte("body")), uint16(13), false)
	f.Add(appendFrame(nil, kindCall, 7, []byte("body")), uint16(12), false)
	f.Add(appendFrame(appendFrame(nil, kindHello, 0, []byte("one")), kindCancel, 1, nil), uint16(100), false)
	f.Add([]byte{0, 0, 0, 8, 1, 0, 0, 0, 0, 0, 0, 0, 0}, uint16(100), false)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0}, uint16(100), false)
	f.Add([]byte{0, 0, 0x10, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 'a'}, uint16(4096), false)
	f.Add([]byte{0, 0, 0}, uint16(10), false)
	// Lengths far over what arrives, under a limit of up to 4 GiB.
	f.Add([]byte{0x10, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 'b'}, uint16(0xffff), true)
	f.Add([]byte{0, 0x20, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(0x40), true)
	f.Fuzz(func(t *testing.T, data []byte, limit16 uint16, big bool) {
		limit := int64(limit16)
		if big {
			limit <<= 16 // up to 4 GiB
		}
		r := &maxReadReader{r: bytes.NewReader(data)}
		fr, err := readFrame(r, limit)

		if r.maxRead > max(frameHeaderLen, int(limit)-9) {
			t.Fatalf("read into a %d-byte buffer with a limit of %d", r.maxRead, limit)
		}
		// Memory follows what arrives, not what the header claims (a
		// few MiB of slack for reading in chunks).
		if r.maxRead > 4<<20+2*len(data) {
			t.Fatalf("read into a %d-byte buffer with %d bytes of input", r.maxRead, len(data))
		}
		if len(data) == 0 {
			if err != io.EOF {
				t.Fatalf("empty stream: err %v, want io.EOF", err)
			}
			return
		}
		if len(data) < frameHeaderLen {
			if err == nil || err == io.EOF || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%d bytes of header: err %v, want a truncation", len(data), err)
			}
			return
		}
		n := int64(binary.BigEndian.Uint32(data))
		switch {
		case n < 9:
			if err == nil {
				t.Fatalf("length %d shorter than a header accepted", n)
			}
		case n > limit:
			if !errors.Is(err, errFrameTooLarge) {
				t.Fatalf("length %d over the limit %d: err %v, want errFrameTooLarge", n, limit, err)
			}
		case int64(len(data)) < 4+n:
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("frame of %d bytes cut at %d: err %v, want a truncation", n, len(data)-4, err)
			}
		default:
			if err != nil {
				t.Fatalf("complete frame of length %d (limit %d) refused: %v", n, limit, err)
			}
			if fr.kind != frameKind(data[4]) || fr.id != binary.BigEndian.Uint64(data[5:13]) || !bytes.Equal(fr.body, data[13:4+n]) {
				t.Fatalf("frame decoded as %v %d %q from % x", fr.kind, fr.id, fr.body, data[:4+n])
			}
			// What was read re-encodes to the same bytes, and the
			// reader stopped at the frame's end.
			if enc := appendFrame(nil, fr.kind, fr.id, fr.body); !bytes.Equal(enc, data[:4+n]) {
				t.Fatalf("re-encoded % x, read % x", enc, data[:4+n])
			}
			if rest := r.r.Len(); int64(rest) != int64(len(data))-4-n {
				t.Fatalf("%d bytes left after the frame, want %d", rest, int64(len(data))-4-n)
			}
		}
		if err != nil && (fr.body != nil || fr.kind != 0 || fr.id != 0) {
			t.Fatalf("error %v with a non-zero frame", err)
		}

		// Any frame written round-trips at any limit that admits it.
		if int64(len(data))+9 <= 1<<16 {
			kind, id := frameKind(len(data)), uint64(limit)<<48|uint64(len(data))
			var buf bytes.Buffer
			if err := writeFrame(&buf, kind, id, data); err != nil {
				t.Fatal(err)
			}
			got, err := readFrame(&buf, int64(len(data))+9)
			if err != nil || got.kind != kind || got.id != id || !bytes.Equal(got.body, data) {
				t.Fatalf("round trip: %v %d %q, %v", got.kind, got.id, got.body, err)
			}
			if _, err := readFrame(&buf, 1<<16); err != io.EOF {
				t.Fatalf("after the only frame: %v, want io.EOF", err)
			}
		}
	})
}

// readFrame must not allocate a body for bytes that never arrive: a peer
// that sends a 13-byte header claiming a frame just under the limit (1 GiB
// by default) must not cost the reader that much memory before it has
// sent anything more. Otherwise a garbled or hostile child (or, later, a
// peer on a message bus) makes its parent allocate up to 1 GiB per header,
// and a handful of them at once can exhaust its memory.
func TestReadFrameAllocatesOnlyWhatArrives(t *testing.T) {
	const claimed = 256 << 20
	hdr := binary.BigEndian.AppendUint32(nil, claimed)
	hdr = append(hdr, byte(kindResult), 0, 0, 0, 0, 0, 0, 0, 1)
	stream := append(hdr, make([]byte, 100)...) // then the stream ends

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := readFrame(bytes.NewReader(stream), DefaultMaxFrameSize)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated frame: err %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("readFrame allocated %d MiB for a frame claiming %d MiB of which 100 bytes arrived",
			alloc>>20, claimed>>20)
	}
}

// Frames of every size up to a few MiB, read through readers that return
// short reads, data together with EOF, or one byte at a time, arrive whole;
// cut anywhere, they are reported truncated; a read error is passed on.
func TestReadFrameLargeBodies(t *testing.T) {
	mk := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i>>11)
		}
		return b
	}
	readers := []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{
		{"plain", func(r io.Reader) io.Reader { return r }},
		{"half reads", iotest.HalfReader},
		{"data with EOF", iotest.DataErrReader},
		{"one byte at a time", iotest.OneByteReader},
	}
	for _, n := range []int{0, 1, 1<<20 - 10, 1<<20 - 9, 1<<20 - 8, 1 << 20, 1<<20 + 1, 2<<20 + 3, 5<<20 + 11} {
		body := mk(n)
		frame := appendFrame(nil, kindResult, uint64(n), body)
		for _, rd := range readers {
			if rd.name == "one byte at a time" && n > 2<<20 {
				continue // slow, and the smaller sizes cover it
			}
			t.Run(fmt.Sprintf("%d bytes, %s", n, rd.name), func(t *testing.T) {
				f, err := readFrame(rd.wrap(bytes.NewReader(frame)), int64(n)+9)
				if err != nil || f.kind != kindResult || f.id != uint64(n) || !bytes.Equal(f.body, body) {
					t.Fatalf("got %v %d, %d bytes (equal %v), %v", f.kind, f.id, len(f.body), bytes.Equal(f.body, body), err)
				}
				for _, cut := range []int{len(frame) - 1, len(frame) / 2, frameHeaderLen + 1} {
					if cut <= frameHeaderLen || cut >= len(frame) {
						continue
					}
					_, err := readFrame(rd.wrap(bytes.NewReader(frame[:cut])), int64(n)+9)
					if !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Fatalf("frame cut at %d of %d: err %v, want io.ErrUnexpectedEOF", cut, len(frame), err)
					}
				}
			})
		}
		t.Run(fmt.Sprintf("%d bytes, read error", n), func(t *testing.T) {
			if n == 0 {
				return
			}
			_, err := readFrame(iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(frame))), int64(n)+9)
			if !errors.Is(err, iotest.ErrTimeout) {
				t.Fatalf("err %v, want iotest.ErrTimeout", err)
			}
		})
	}
}

// helloEqual compares hellos, taking an empty ident for a nil one.
func helloEqual(a, b *hello) bool {
	x, y := *a, *b
	if len(x.ident) == 0 {
		x.ident = nil
	}
	if len(y.ident) == 0 {
		y.ident = nil
	}
	return reflect.DeepEqual(x, y)
}

func identFrom(b []byte) []int {
	var ident []int
	for i := 0; i+1 < len(b); i += 2 {
		ident = append(ident, int(int16(binary.BigEndian.Uint16(b[i:]))))
	}
	return ident
}

func FuzzDecodeHello(f *testing.F) {
	valid := &hello{
		nonce: bytes.Repeat([]byte{1}, 16), parentPid: 100, childPid: 200, authkey: bytes.Repeat([]byte{2}, 32),
		ident: []int{1, 2}, name: "Process-1:2", daemon: true, parentName: "Process-1", maxFrame: 1 << 30,
	}
	f.Add(valid.encode(), []byte("0123456789abcdef"), []byte("key-key-key-key-key-key-key-key!"), 1, -1, []byte{0, 1, 0, 2}, "n", false, "p", int64(-1), uint(0))
	f.Add([]byte{}, []byte{}, []byte{}, 0, 0, []byte{}, "", true, "", int64(0), uint(5))
	f.Add([]byte("\x0bmpgen-hello\x01"), bytes.Repeat([]byte{0xff}, 40), bytes.Repeat([]byte{0}, 16), math.MaxInt, math.MinInt, []byte{0xff, 0xff}, "\x00", true, "日本", int64(math.MaxInt64), uint(1000))
	f.Fuzz(func(t *testing.T, body, nonce, key []byte, ppid, cpid int, ident []byte, name string, daemon bool, parentName string, maxFrame int64, flip uint) {
		// Any bytes: no panic; what is accepted has the checked
		// properties and survives a re-encoding.
		if h, err := decodeHello(body); err == nil {
			if len(h.nonce) < 16 || len(h.authkey) < 16 {
				t.Fatalf("accepted a hello with a %d-byte nonce and a %d-byte key", len(h.nonce), len(h.authkey))
			}
			h2, err := decodeHello(h.encode())
			if err != nil || !helloEqual(h, h2) {
				t.Fatalf("re-encoding an accepted hello: %+v, %v; was %+v", h2, err, h)
			}
		} else if !errors.Is(err, errBadHello) {
			t.Fatalf("error %v does not wrap errBadHello", err)
		}

		// A hello built from the inputs round-trips, and changing any
		// one byte of its encoding is detected.
		h := &hello{nonce: nonce, parentPid: ppid, childPid: cpid, authkey: key, ident: identFrom(ident),
			name: name, daemon: daemon, parentName: parentName, maxFrame: maxFrame}
		enc := h.encode()
		got, err := decodeHello(enc)
		if len(nonce) < 16 || len(key) < 16 {
			if err == nil {
				t.Fatalf("accepted a %d-byte nonce and a %d-byte key", len(nonce), len(key))
			}
			return
		}
		if err != nil || !helloEqual(h, got) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, h)
		}
		i := int(flip % uint(len(enc)))
		bad := slices.Clone(enc)
		bad[i] ^= byte(flip>>8) | 1
		if h2, err := decodeHello(bad); err == nil {
			t.Fatalf("byte %d of %d changed (%#x -> %#x) and the hello still decodes: %+v", i, len(enc), enc[i], bad[i], h2)
		}
	})
}

// callEqual compares call messages by content.
func callEqual(a, b *callMsg) bool {
	if a.target != b.target || a.codec != b.codec || len(a.args) != len(b.args) {
		return false
	}
	for i := range a.args {
		if a.args[i].present != b.args[i].present || !bytes.Equal(a.args[i].data, b.args[i].data) {
			return false
		}
	}
	return true
}

// argsFrom splits b into encoded values: a 0 byte is an absent value, any
// other byte n starts a present value of the next n-1 bytes.
func argsFrom(b []byte) []encodedValue {
	var out []encodedValue
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		if n == 0 {
			out = append(out, encodedValue{})
			continue
		}
		n = min(n-1, len(b))
		out = append(out, encodedValue{present: true, data: b[:n]})
		b = b[n:]
	}
	return out
}

func FuzzDecodeCall(f *testing.F) {
	valid := &callMsg{target: "github.com/mpgen/mpgen/internal/targets.Add", codec: "gob",
		args: []encodedValue{{present: true, data: []byte{3, 4, 0, 2}}, {}}}
	f.Add(valid.encode(), "t", "gob", []byte{0, 3, 'a', 'b', 1})
	f.Add([]byte{}, "", "", []byte{})
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, "x", "json", []byte{0, 0, 0})
	f.Add([]byte{1, 'a', 0, 3, 1, 0, 1, 2}, strings.Repeat("n", 300), "c", []byte{200, 1, 2})
	f.Fuzz(func(t *testing.T, body []byte, target, codec string, args []byte) {
		if c, err := decodeCall(body); err == nil {
			if len(c.args) > len(body) {
				t.Fatalf("%d arguments from %d bytes", len(c.args), len(body))
			}
			c2, err := decodeCall(c.encode())
			if err != nil || !callEqual(c, c2) {
				t.Fatalf("re-encoding an accepted call: %+v, %v; was %+v", c2, err, c)
			}
		}
		c := &callMsg{target: target, codec: codec, args: argsFrom(args)}
		got, err := decodeCall(c.encode())
		if err != nil || !callEqual(c, got) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, c)
		}
		if enc := c.encode(); len(enc) > 0 {
			if _, err := decodeCall(enc[:len(enc)-1]); err == nil && len(c.args) > 0 {
				t.Fatalf("a call cut by one byte decodes")
			}
		}
	})
}

func errorMsgEqual(a, b *errorMsg) bool {
	if a.message != b.message || a.typ != b.typ || !slices.Equal(a.sentinels, b.sentinels) || len(a.typed) != len(b.typed) {
		return false
	}
	for i := range a.typed {
		if a.typed[i].name != b.typed[i].name || !bytes.Equal(a.typed[i].data, b.typed[i].data) {
			return false
		}
	}
	return true
}

func FuzzDecodeError(f *testing.F) {
	valid := &errorMsg{message: "fail now: boom", typ: "*fmt.wrapError",
		sentinels: []string{"github.com/mpgen/mpgen/internal/targets.ErrBoom"},
		typed:     []typedError{{name: "github.com/mpgen/mpgen/internal/targets.CodeError", data: []byte{1, 2, 3}}}}
	f.Add(valid.encode(), "m", "t", "a\x00b", "n\x00d")
	f.Add([]byte{}, "", "", "", "")
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, "x", "y", "\x00\x00\x00", "")
	f.Add([]byte{0, 0, 0, 1, 0, 0}, "", "", "", "\x00")
	f.Fuzz(func(t *testing.T, body []byte, message, typ, sentinels, typed string) {
		if e, err := decodeError(body); err == nil {
			e2, err := decodeError(e.encode())
			if err != nil || !errorMsgEqual(e, e2) {
				t.Fatalf("re-encoding an accepted error: %+v, %v; was %+v", e2, err, e)
			}
		}
		e := &errorMsg{message: message, typ: typ}
		if sentinels != "" {
			e.sentinels = strings.Split(sentinels, "\x00")
		}
		if typed != "" {
			for _, nd := range strings.Split(typed, "\x00") {
				name, data, _ := strings.Cut(nd, "=")
				e.typed = append(e.typed, typedError{name: name, data: []byte(data)})
			}
		}
		got, err := decodeError(e.encode())
		if err != nil || !errorMsgEqual(e, got) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, e)
		}
	})
}

func FuzzDecodePanic(f *testing.F) {
	valid := &panicMsg{value: "target says ouch", typ: "string", stack: "goroutine 1 [running]:\nmain.main()\n"}
	f.Add(valid.encode(), "v", "t", "s")
	f.Add([]byte{}, "", "", "")
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "\xff", "", strings.Repeat("x", 200))
	f.Fuzz(func(t *testing.T, body []byte, value, typ, stack string) {
		if p, err := decodePanic(body); err == nil {
			p2, err := decodePanic(p.encode())
			if err != nil || *p != *p2 {
				t.Fatalf("re-encoding an accepted panic: %+v, %v; was %+v", p2, err, p)
			}
		}
		p := &panicMsg{value: value, typ: typ, stack: stack}
		got, err := decodePanic(p.encode())
		if err != nil || *got != *p {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, p)
		}
	})
}

// Types a child decodes arguments into in FuzzArgsDecode.
type (
	fuzzPoint struct{ X, Y int }
	fuzzTree  struct {
		Name  string
		Kids  []*fuzzTree
		Attrs map[string][]byte
	}
	fuzzPayload struct {
		When  time.Time
		Data  []byte
		Tags  map[string][]int
		At    *fuzzPoint
		Pts   []fuzzPoint
		Ratio float64
		C     complex128
		Arr   [3]uint8
		Dur   time.Duration
		Any   any
	}
)

// fuzzArgTypes makes a fresh pointer to each type FuzzArgsDecode tries.
var fuzzArgTypes = []func() any{
	func() any { return new(int) },
	func() any { return new(string) },
	func() any { return new([]byte) },
	func() any { return new([]int) },
	func() any { return new(map[string][]int) },
	func() any { return new(*fuzzPoint) },
	func() any { return new(fuzzTree) },
	func() any { return new(fuzzPayload) },
	func() any { return new([][]map[int]*fuzzPoint) },
	func() any { return new(time.Time) },
	func() any { return new(any) },
}

func FuzzArgsDecode(f *testing.F) {
	gob, json := Gob, JSON
	seeds := []any{
		42, "hello", []byte{0, 1, 2}, []int{1, 2, 3}, map[string][]int{"a": {1}, "b": nil},
		&fuzzPoint{X: 1, Y: -2},
		fuzzTree{Name: "root", Kids: []*fuzzTree{{Name: "kid", Attrs: map[string][]byte{"k": []byte("v")}}}},
		fuzzPayload{When: time.Date(2026, 11, 25, 20, 0, 0, 123, time.UTC), Data: []byte{9}, At: &fuzzPoint{1, 2}, Dur: time.Minute},
		[][]map[int]*fuzzPoint{{{1: {3, 4}}}},
		time.Unix(0, 0),
	}
	for _, s := range seeds {
		for _, c := range []Codec{gob, json} {
			data, err := c.Marshal(s)
			if err != nil {
				continue // JSON has no complex numbers
			}
			f.Add(data, c.Name() == "json", true)
		}
	}
	f.Add([]byte{}, false, true)
	f.Add([]byte{}, false, false)
	f.Add([]byte{0x03, 0x04, 0x00, 0xff}, false, true)
	f.Add([]byte("\xff\xff\xff\xff\xff\xff\xff\xff"), false, true)
	f.Add([]byte("null"), true, true)
	f.Add([]byte(`{"Kids":[{"Kids":[{"Kids":[]}]}]}`), true, true)
	f.Fuzz(func(t *testing.T, data []byte, useJSON, present bool) {
		var c Codec = gob
		if useJSON {
			c = json
		}
		w := &wireArgs{codec: c, args: []encodedValue{{present: present, data: data}}}
		for _, mk := range fuzzArgTypes {
			v := mk()
			err := w.Decode(0, v) // must not panic
			if !present && err != nil {
				t.Fatalf("an absent argument failed to decode into %T: %v", v, err)
			}
			if err == nil && present && !useJSON {
				// gob accepted it: the value re-encodes and decodes
				// to an equal value.
				enc, err := gob.Marshal(reflect.ValueOf(v).Elem().Interface())
				if err != nil {
					continue // e.g. a nil pointer or an untyped nil any
				}
				v2 := mk()
				if err := gob.Unmarshal(enc, v2); err != nil {
					t.Fatalf("%T: re-encoded value does not decode: %v", v, err)
				}
			}
		}
		if err := w.Decode(1, new(int)); err == nil {
			t.Fatal("argument 1 of 1 decoded")
		}
		if err := w.Decode(-1, new(int)); err == nil {
			t.Fatal("argument -1 decoded")
		}
	})
}

// FuzzDecodeMsg: a Conn or Queue message from another process decodes into
// a value or an error, never a panic; descriptors it names but that did not
// arrive are an error.
func FuzzDecodeMsg(f *testing.F) {
	for _, v := range []any{42, "text", []byte("raw"), []int{1, 2}, map[string]int{"a": 1}} {
		msg, files, err := encodeMsg(Gob, reflect.ValueOf(v))
		if err != nil || len(files) != 0 {
			f.Fatalf("encodeMsg(%v): %v, %d files", v, err, len(files))
		}
		f.Add(msg, uint8(0))
	}
	f.Add([]byte{}, uint8(1))
	f.Add([]byte{formHandle, 1, 2, 3}, uint8(2))
	f.Add([]byte{formSpilled | formRaw}, uint8(3))
	f.Fuzz(func(t *testing.T, msg []byte, kind uint8) {
		switch kind % 4 {
		case 0:
			var v int
			_ = decodeMsg(Gob, msg, nil, &v)
		case 1:
			var v string
			_ = decodeMsg(Gob, msg, nil, &v)
		case 2:
			var v []byte
			if err := decodeMsg(Gob, msg, nil, &v); err == nil && len(msg) > 0 && msg[0] == formRaw && !bytes.Equal(v, msg[1:]) {
				t.Fatalf("raw message decoded to %q, want %q", v, msg[1:])
			}
		case 3:
			var v *Conn[int]
			if err := decodeMsg(Gob, msg, nil, &v); err == nil && len(msg) > 0 && msg[0] == formHandle {
				t.Fatalf("a handle without descriptors was accepted")
			}
		}
	})
}

package wire

// Native fuzz tests of everything that parses bytes from the other end of a
// control channel: frames and the hello, call, error and panic bodies. None
// may panic on any input, a frame longer than the limit is refused before
// its body is allocated, and every valid encoding decodes back to what was
// encoded. (The arguments a child decodes with a codec are fuzzed in package
// mp: FuzzArgsDecode, FuzzDecodeFast, FuzzDecodeMsg.)
//
// Run one for a while with, for instance,
//
//	go test -run '^$' -fuzz '^FuzzReadFrame$' -fuzztime 20s ./runtime/internal/wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// maxReadReader is a reader over data that records the largest buffer it
// was asked to fill: ReadFrame reads a frame's body straight into the
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
	f.Add(AppendFrame(nil, KindResult, 1, EncodeResult(Value{Present: true, Data: []byte("x")})), uint16(64), false)
	f.Add(AppendFrame(nil, KindCall, math.MaxUint64, []byte("body")), uint16(13), false)
	f.Add(AppendFrame(nil, KindCall, 7, []byte("body")), uint16(12), false)
	f.Add(AppendFrame(AppendFrame(nil, KindHello, 0, []byte("one")), KindCancel, 1, nil), uint16(100), false)
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
		fr, err := ReadFrame(r, limit)

		if r.maxRead > max(HeaderLen, int(limit)-9) {
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
		if len(data) < HeaderLen {
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
			if !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("length %d over the limit %d: err %v, want ErrFrameTooLarge", n, limit, err)
			}
		case int64(len(data)) < 4+n:
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("frame of %d bytes cut at %d: err %v, want a truncation", n, len(data)-4, err)
			}
		default:
			if err != nil {
				t.Fatalf("complete frame of length %d (limit %d) refused: %v", n, limit, err)
			}
			if fr.Kind != Kind(data[4]) || fr.ID != binary.BigEndian.Uint64(data[5:13]) || !bytes.Equal(fr.Body, data[13:4+n]) {
				t.Fatalf("frame decoded as %v %d %q from % x", fr.Kind, fr.ID, fr.Body, data[:4+n])
			}
			// What was read re-encodes to the same bytes, and the
			// reader stopped at the frame's end.
			if enc := AppendFrame(nil, fr.Kind, fr.ID, fr.Body); !bytes.Equal(enc, data[:4+n]) {
				t.Fatalf("re-encoded % x, read % x", enc, data[:4+n])
			}
			if rest := r.r.Len(); int64(rest) != int64(len(data))-4-n {
				t.Fatalf("%d bytes left after the frame, want %d", rest, int64(len(data))-4-n)
			}
		}
		if err != nil && (fr.Body != nil || fr.Kind != 0 || fr.ID != 0) {
			t.Fatalf("error %v with a non-zero frame", err)
		}

		// Any frame written round-trips at any limit that admits it.
		if int64(len(data))+9 <= 1<<16 {
			kind, id := Kind(len(data)), uint64(limit)<<48|uint64(len(data))
			var buf bytes.Buffer
			if err := WriteFrame(&buf, kind, id, data); err != nil {
				t.Fatal(err)
			}
			got, err := ReadFrame(&buf, int64(len(data))+9)
			if err != nil || got.Kind != kind || got.ID != id || !bytes.Equal(got.Body, data) {
				t.Fatalf("round trip: %v %d %q, %v", got.Kind, got.ID, got.Body, err)
			}
			if _, err := ReadFrame(&buf, 1<<16); err != io.EOF {
				t.Fatalf("after the only frame: %v, want io.EOF", err)
			}
		}
	})
}

// ReadFrame must not allocate a body for bytes that never arrive: a peer
// that sends a 13-byte header claiming a frame just under the limit (1 GiB
// by default) must not cost the reader that much memory before it has
// sent anything more. Otherwise a garbled or hostile child (or, later, a
// peer on a message bus) makes its parent allocate up to 1 GiB per header,
// and a handful of them at once can exhaust its memory.
func TestReadFrameAllocatesOnlyWhatArrives(t *testing.T) {
	const claimed = 256 << 20
	hdr := binary.BigEndian.AppendUint32(nil, claimed)
	hdr = append(hdr, byte(KindResult), 0, 0, 0, 0, 0, 0, 0, 1)
	stream := append(hdr, make([]byte, 100)...) // then the stream ends

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(bytes.NewReader(stream), 1<<30)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated frame: err %v", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("ReadFrame allocated %d MiB for a frame claiming %d MiB of which 100 bytes arrived",
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
		frame := AppendFrame(nil, KindResult, uint64(n), body)
		for _, rd := range readers {
			if rd.name == "one byte at a time" && n > 2<<20 {
				continue // slow, and the smaller sizes cover it
			}
			t.Run(fmt.Sprintf("%d bytes, %s", n, rd.name), func(t *testing.T) {
				f, err := ReadFrame(rd.wrap(bytes.NewReader(frame)), int64(n)+9)
				if err != nil || f.Kind != KindResult || f.ID != uint64(n) || !bytes.Equal(f.Body, body) {
					t.Fatalf("got %v %d, %d bytes (equal %v), %v", f.Kind, f.ID, len(f.Body), bytes.Equal(f.Body, body), err)
				}
				for _, cut := range []int{len(frame) - 1, len(frame) / 2, HeaderLen + 1} {
					if cut <= HeaderLen || cut >= len(frame) {
						continue
					}
					_, err := ReadFrame(rd.wrap(bytes.NewReader(frame[:cut])), int64(n)+9)
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
			_, err := ReadFrame(iotest.TimeoutReader(iotest.HalfReader(bytes.NewReader(frame))), int64(n)+9)
			if !errors.Is(err, iotest.ErrTimeout) {
				t.Fatalf("err %v, want iotest.ErrTimeout", err)
			}
		})
	}
}

func identFrom(b []byte) []int {
	var ident []int
	for i := 0; i+1 < len(b); i += 2 {
		ident = append(ident, int(int16(binary.BigEndian.Uint16(b[i:]))))
	}
	return ident
}

func FuzzDecodeHello(f *testing.F) {
	valid := &Hello{
		Nonce: bytes.Repeat([]byte{1}, 16), ParentPid: 100, ChildPid: 200, Authkey: bytes.Repeat([]byte{2}, 32),
		Ident: []int{1, 2}, Name: "Process-1:2", Daemon: true, ParentName: "Process-1", MaxFrame: 1 << 30,
	}
	f.Add(valid.Encode(), []byte("0123456789abcdef"), []byte("key-key-key-key-key-key-key-key!"), 1, -1, []byte{0, 1, 0, 2}, "n", false, "p", int64(-1), uint(0))
	f.Add([]byte{}, []byte{}, []byte{}, 0, 0, []byte{}, "", true, "", int64(0), uint(5))
	f.Add([]byte("\x0bmpgen-hello\x01"), bytes.Repeat([]byte{0xff}, 40), bytes.Repeat([]byte{0}, 16), math.MaxInt, math.MinInt, []byte{0xff, 0xff}, "\x00", true, "日本", int64(math.MaxInt64), uint(1000))
	f.Fuzz(func(t *testing.T, body, nonce, key []byte, ppid, cpid int, ident []byte, name string, daemon bool, parentName string, maxFrame int64, flip uint) {
		// Any bytes: no panic; what is accepted has the checked
		// properties and survives a re-encoding.
		if h, err := DecodeHello(body); err == nil {
			if len(h.Nonce) < 16 || len(h.Authkey) < 16 {
				t.Fatalf("accepted a hello with a %d-byte nonce and a %d-byte key", len(h.Nonce), len(h.Authkey))
			}
			h2, err := DecodeHello(h.Encode())
			if err != nil || !helloEqual(h, h2) {
				t.Fatalf("re-encoding an accepted hello: %+v, %v; was %+v", h2, err, h)
			}
		} else if !errors.Is(err, ErrBadHello) {
			t.Fatalf("error %v does not wrap ErrBadHello", err)
		}

		// A hello built from the inputs round-trips, and changing any
		// one byte of its encoding is detected.
		h := &Hello{Nonce: nonce, ParentPid: ppid, ChildPid: cpid, Authkey: key, Ident: identFrom(ident),
			Name: name, Daemon: daemon, ParentName: parentName, MaxFrame: maxFrame}
		enc := h.Encode()
		got, err := DecodeHello(enc)
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
		if h2, err := DecodeHello(bad); err == nil {
			t.Fatalf("byte %d of %d changed (%#x -> %#x) and the hello still decodes: %+v", i, len(enc), enc[i], bad[i], h2)
		}
	})
}

// callEqual compares call messages by content.
func callEqual(a, b *Call) bool {
	if a.Target != b.Target || a.Codec != b.Codec || len(a.Args) != len(b.Args) || !maps.Equal(a.Carrier, b.Carrier) {
		return false
	}
	for i := range a.Args {
		if a.Args[i].Present != b.Args[i].Present || !bytes.Equal(a.Args[i].Data, b.Args[i].Data) {
			return false
		}
	}
	return true
}

// carrierFrom splits s at NUL bytes into keys and values, in turn (a key
// without a value has an empty one).
func carrierFrom(s string) map[string]string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, "\x00")
	m := map[string]string{}
	for i := 0; i < len(parts); i += 2 {
		v := ""
		if i+1 < len(parts) {
			v = parts[i+1]
		}
		m[parts[i]] = v
	}
	return m
}

// argsFrom splits b into encoded values: a 0 byte is an absent value, any
// other byte n starts a present value of the next n-1 bytes.
func argsFrom(b []byte) []Value {
	var out []Value
	for len(b) > 0 {
		n := int(b[0])
		b = b[1:]
		if n == 0 {
			out = append(out, Value{})
			continue
		}
		n = min(n-1, len(b))
		out = append(out, Value{Present: true, Data: b[:n]})
		b = b[n:]
	}
	return out
}

func FuzzDecodeCall(f *testing.F) {
	valid := &Call{Target: "github.com/mpgen/mpgen/internal/targets.Add", Codec: "gob",
		Args: []Value{{Present: true, Data: []byte{3, 4, 0, 2}}, {}}}
	traced := *valid
	traced.Carrier = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "baggage": "k=v"}
	f.Add(valid.Encode(), "t", "gob", []byte{0, 3, 'a', 'b', 1}, "")
	f.Add(traced.Encode(), "t", "gob", []byte{2, 'a'}, "traceparent\x0000-01-02-01\x00tracestate\x00")
	f.Add([]byte{}, "", "", []byte{}, "")
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, "x", "json", []byte{0, 0, 0}, "\x00")
	f.Add([]byte{1, 'a', 0, 3, 1, 0, 1, 2}, strings.Repeat("n", 300), "c", []byte{200, 1, 2}, "k")
	f.Add([]byte{0, 0, 0, 0}, "", "", []byte{}, "")                       // an empty carrier
	f.Add([]byte{0, 0, 0, 2, 1, 'b', 0, 1, 'a', 0}, "", "", []byte{}, "") // keys out of order
	f.Fuzz(func(t *testing.T, body []byte, target, codec string, args []byte, carrier string) {
		if c, err := DecodeCall(body); err == nil {
			if len(c.Args) > len(body) {
				t.Fatalf("%d arguments from %d bytes", len(c.Args), len(body))
			}
			c2, err := DecodeCall(c.Encode())
			if err != nil || !callEqual(c, c2) {
				t.Fatalf("re-encoding an accepted call: %+v, %v; was %+v", c2, err, c)
			}
		}
		c := &Call{Target: target, Codec: codec, Args: argsFrom(args), Carrier: carrierFrom(carrier)}
		got, err := DecodeCall(c.Encode())
		if err != nil || !callEqual(c, got) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, c)
		}
		if c.Size() != len(c.Encode()) {
			t.Fatalf("Size() = %d, the encoding is %d bytes", c.Size(), len(c.Encode()))
		}
		if enc := c.Encode(); len(enc) > 0 {
			if _, err := DecodeCall(enc[:len(enc)-1]); err == nil && (len(c.Args) > 0 || len(c.Carrier) > 0) {
				t.Fatalf("a call cut by one byte decodes")
			}
		}
	})
}

func errorMsgEqual(a, b *ErrorMsg) bool {
	if a.Message != b.Message || a.Type != b.Type || !slices.Equal(a.Sentinels, b.Sentinels) || len(a.Typed) != len(b.Typed) {
		return false
	}
	for i := range a.Typed {
		if a.Typed[i].Name != b.Typed[i].Name || !bytes.Equal(a.Typed[i].Data, b.Typed[i].Data) {
			return false
		}
	}
	return true
}

func FuzzDecodeError(f *testing.F) {
	valid := &ErrorMsg{Message: "fail now: boom", Type: "*fmt.wrapError",
		Sentinels: []string{"github.com/mpgen/mpgen/internal/targets.ErrBoom"},
		Typed:     []TypedError{{Name: "github.com/mpgen/mpgen/internal/targets.CodeError", Data: []byte{1, 2, 3}}}}
	f.Add(valid.Encode(), "m", "t", "a\x00b", "n\x00d")
	f.Add([]byte{}, "", "", "", "")
	f.Add([]byte{0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, "x", "y", "\x00\x00\x00", "")
	f.Add([]byte{0, 0, 0, 1, 0, 0}, "", "", "", "\x00")
	f.Fuzz(func(t *testing.T, body []byte, message, typ, sentinels, typed string) {
		if e, err := DecodeError(body); err == nil {
			e2, err := DecodeError(e.Encode())
			if err != nil || !errorMsgEqual(e, e2) {
				t.Fatalf("re-encoding an accepted error: %+v, %v; was %+v", e2, err, e)
			}
		}
		e := &ErrorMsg{Message: message, Type: typ}
		if sentinels != "" {
			e.Sentinels = strings.Split(sentinels, "\x00")
		}
		if typed != "" {
			for _, nd := range strings.Split(typed, "\x00") {
				name, data, _ := strings.Cut(nd, "=")
				e.Typed = append(e.Typed, TypedError{Name: name, Data: []byte(data)})
			}
		}
		got, err := DecodeError(e.Encode())
		if err != nil || !errorMsgEqual(e, got) {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, e)
		}
	})
}

func FuzzDecodePanic(f *testing.F) {
	valid := &PanicMsg{Value: "target says ouch", Type: "string", Stack: "goroutine 1 [running]:\nmain.main()\n"}
	f.Add(valid.Encode(), "v", "t", "s")
	f.Add([]byte{}, "", "", "")
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "\xff", "", strings.Repeat("x", 200))
	f.Fuzz(func(t *testing.T, body []byte, value, typ, stack string) {
		if p, err := DecodePanic(body); err == nil {
			p2, err := DecodePanic(p.Encode())
			if err != nil || *p != *p2 {
				t.Fatalf("re-encoding an accepted panic: %+v, %v; was %+v", p2, err, p)
			}
		}
		p := &PanicMsg{Value: value, Type: typ, Stack: stack}
		got, err := DecodePanic(p.Encode())
		if err != nil || *got != *p {
			t.Fatalf("round trip: %+v, %v; want %+v", got, err, p)
		}
	})
}

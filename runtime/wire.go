package mp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync/atomic"
)

// The wire: every message between a parent and a child is one frame,
//
//	uint32 length | uint8 kind | uint64 call id | body (length-9 bytes)
//
// all integers big-endian. The frame format knows nothing of the transport
// (a socketpair today, a message bus tomorrow) and the call id lets one
// channel carry many calls. Bodies are built from uvarints and
// length-prefixed byte strings (see wbuf and rbuf), never from a codec, so
// a frame can be validated without reflection or allocation surprises.

// frameKind says what a frame carries.
type frameKind uint8

const (
	kindHello       frameKind = 1 // parent -> child: handshake (hello)
	kindCall        frameKind = 2 // parent -> child: run a target (callMsg)
	kindResult      frameKind = 3 // child -> parent: the target returned (payload of the result)
	kindError       frameKind = 4 // child -> parent: the target returned an error (errorMsg)
	kindPanic       frameKind = 5 // child -> parent: the target panicked (panicMsg)
	kindCancel      frameKind = 6 // parent -> child: cancel the call's context
	kindBatch       frameKind = 7 // parent -> worker: run a target over many arguments (batchMsg)
	kindBatchResult frameKind = 8 // worker -> parent: the outcomes of a batch (batchResultMsg)
	kindRefused     frameKind = 9 // worker -> parent: the call was not started; run it elsewhere
)

func (k frameKind) String() string {
	switch k {
	case kindHello:
		return "hello"
	case kindCall:
		return "call"
	case kindResult:
		return "result"
	case kindError:
		return "error"
	case kindPanic:
		return "panic"
	case kindCancel:
		return "cancel"
	case kindBatch:
		return "batch"
	case kindBatchResult:
		return "batch result"
	case kindRefused:
		return "refused"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

const frameHeaderLen = 4 + 1 + 8

var maxFrameSize atomic.Int64

func init() { maxFrameSize.Store(DefaultMaxFrameSize) }

// SetMaxFrameSize sets the largest frame (one encoded call, result or error)
// this process will read; a longer frame is refused before any memory is
// allocated for it, and the call fails with a *ProtocolError. n <= 0 restores
// DefaultMaxFrameSize. A child inherits the limit of its parent. It returns
// the previous limit.
func SetMaxFrameSize(n int64) (previous int64) {
	if n <= 0 || n > math.MaxUint32 {
		n = DefaultMaxFrameSize
	}
	return maxFrameSize.Swap(n)
}

// errFrameTooLarge is wrapped by readFrame when a length exceeds the limit.
var errFrameTooLarge = errors.New("frame too large")

type frame struct {
	kind frameKind
	id   uint64
	body []byte
	// files are the descriptors that arrived for the frame's handles.
	files []*os.File
}

// appendFrame appends the encoded frame to dst.
func appendFrame(dst []byte, kind frameKind, id uint64, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+8+len(body)))
	dst = append(dst, byte(kind))
	dst = binary.BigEndian.AppendUint64(dst, id)
	return append(dst, body...)
}

// writeFrame writes one frame whose body is in one piece.
func writeFrame(w io.Writer, kind frameKind, id uint64, body []byte) error {
	return writeFrames(w, nil, kind, id, payload{body})
}

// payload is a frame body in pieces, so that a large raw value is written
// from where it lies instead of being copied into one buffer first.
type payload [][]byte

func (p payload) size() int {
	n := 0
	for _, b := range p {
		n += len(b)
	}
	return n
}

// bytes joins the pieces.
func (p payload) bytes() []byte {
	out := make([]byte, 0, p.size())
	for _, b := range p {
		out = append(out, b...)
	}
	return out
}

// bigPiece is the size from which a piece is written on its own.
const bigPiece = 64 << 10

// writeFrames writes prefix (whole frames already encoded, may be nil) and
// then one frame whose body is body, coalescing small pieces into as few
// writes as possible and writing big ones without copying them.
func writeFrames(w io.Writer, prefix []byte, kind frameKind, id uint64, body payload) error {
	n := body.size()
	if int64(n)+9 > math.MaxUint32 {
		return fmt.Errorf("%w: %d bytes", errFrameTooLarge, n)
	}
	buf := make([]byte, 0, len(prefix)+frameHeaderLen+min(n, bigPiece))
	buf = append(buf, prefix...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(1+8+n))
	buf = append(buf, byte(kind))
	buf = binary.BigEndian.AppendUint64(buf, id)
	for _, b := range body {
		if len(b) < bigPiece {
			buf = append(buf, b...)
			continue
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if len(buf) > 0 {
		_, err := w.Write(buf)
		return err
	}
	return nil
}

// readFrame reads one frame from a peer that has not authenticated, refusing
// lengths over max before allocating and growing the body only as its bytes
// arrive. It returns io.EOF only when the stream ends cleanly between frames.
func readFrame(r io.Reader, max int64) (frame, error) { return readFrameFrom(r, max, false) }

// readPeerFrame reads one frame from an authenticated peer (our own parent
// or child): the body, bounded by max, is allocated at once, which saves a
// copy of every large value.
func readPeerFrame(r io.Reader, max int64) (frame, error) { return readFrameFrom(r, max, true) }

func readFrameFrom(r io.Reader, max int64, trusted bool) (frame, error) {
	var hdr [frameHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return frame{}, fmt.Errorf("truncated frame header: %w", err)
		}
		return frame{}, err
	}
	n := int64(binary.BigEndian.Uint32(hdr[:4]))
	if n < 9 {
		return frame{}, fmt.Errorf("frame length %d is shorter than its header", n)
	}
	if n > max {
		return frame{}, fmt.Errorf("%w: %d bytes, limit %d (see SetMaxFrameSize)", errFrameTooLarge, n, max)
	}
	f := frame{kind: frameKind(hdr[4]), id: binary.BigEndian.Uint64(hdr[5:])}
	body, err := readBody(r, int(n-9), trusted)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return frame{}, fmt.Errorf("truncated %v frame: %w", f.kind, err)
	}
	f.body = body
	return f, nil
}

// eagerBody is the body size allocated at once; a larger body grows as its
// bytes arrive, so a lying length costs no more memory than was sent.
const eagerBody = 1 << 20

func readBody(r io.Reader, n int, trusted bool) ([]byte, error) {
	if trusted || n <= eagerBody {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, eagerBody)
	for len(b) < n {
		if len(b) == cap(b) {
			b = append(b, make([]byte, min(cap(b), n-len(b)))...)[:len(b)]
		}
		m, err := r.Read(b[len(b):min(cap(b), n)])
		b = b[:len(b)+m]
		if err != nil {
			if len(b) == n {
				break
			}
			return nil, err
		}
	}
	return b, nil
}

// wbuf builds a frame body.
type wbuf []byte

func (b *wbuf) uvarint(v uint64) { *b = binary.AppendUvarint(*b, v) }
func (b *wbuf) bytes(p []byte)   { b.uvarint(uint64(len(p))); *b = append(*b, p...) }
func (b *wbuf) string(s string)  { b.uvarint(uint64(len(s))); *b = append(*b, s...) }
func (b *wbuf) bool(v bool) {
	if v {
		*b = append(*b, 1)
	} else {
		*b = append(*b, 0)
	}
}

// rbuf reads a frame body. The first error sticks; every later read
// returns zero values, so decoders check err once at the end.
type rbuf struct {
	b   []byte
	err error
}

var errShortBody = errors.New("frame body ends early")

func (r *rbuf) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *rbuf) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShortBody)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *rbuf) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(errShortBody)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *rbuf) string() string { return string(r.bytes()) }

func (r *rbuf) bool() bool {
	if r.err != nil {
		return false
	}
	if len(r.b) == 0 {
		r.fail(errShortBody)
		return false
	}
	v := r.b[0]
	r.b = r.b[1:]
	if v > 1 {
		r.fail(fmt.Errorf("bad bool byte %d", v))
	}
	return v == 1
}

// count reads a uvarint element count and bounds it by what the rest of the
// body could hold (each element takes at least min bytes).
func (r *rbuf) count(min int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/min) {
		r.fail(fmt.Errorf("count %d exceeds the frame body", n))
		return 0
	}
	return int(n)
}

// done reports the sticky error, or an error if bytes are left over.
func (r *rbuf) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d unexpected bytes at the end of the frame body", len(r.b))
	}
	return r.err
}

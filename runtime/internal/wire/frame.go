package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Kind says what a frame carries.
type Kind uint8

// The kinds of frames, and who sends them.
const (
	KindHello       Kind = 1 // parent -> child: handshake (Hello)
	KindCall        Kind = 2 // parent -> child: run a target (Call)
	KindResult      Kind = 3 // child -> parent: the target returned (a result Value, see EncodeResult)
	KindError       Kind = 4 // child -> parent: the target returned an error (ErrorMsg)
	KindPanic       Kind = 5 // child -> parent: the target panicked (PanicMsg)
	KindCancel      Kind = 6 // parent -> child: cancel the call's context
	KindBatch       Kind = 7 // parent -> worker: run a target over many arguments (Batch)
	KindBatchResult Kind = 8 // worker -> parent: the outcomes of a batch (BatchResult)
	KindRefused     Kind = 9 // worker -> parent: the call was not started; run it elsewhere

	// child -> parent: values the child kept from a queue's batch, for
	// the parent to put back, beside the queue's descriptors
	KindKept Kind = 10

	// parent -> child: stop as SIGTERM would (sent where there is no
	// SIGTERM: Windows); see Terminate
	KindTerminate Kind = 11

	// either way, on Windows only: the handles that travel with the next
	// frame (Windows has no SCM_RIGHTS); runtime/internal/fdio's Reader
	// consumes it, so package mp never sees one
	KindRights Kind = 12
)

// Terminate is the whole frame of KindTerminate.
var Terminate = [HeaderLen]byte{0, 0, 0, 9, byte(KindTerminate)}

// String names the kind as error messages do: "call", "batch result",
// or "kind(N)" for a kind this package does not know.
func (k Kind) String() string {
	switch k {
	case KindHello:
		return "hello"
	case KindCall:
		return "call"
	case KindResult:
		return "result"
	case KindError:
		return "error"
	case KindPanic:
		return "panic"
	case KindCancel:
		return "cancel"
	case KindBatch:
		return "batch"
	case KindBatchResult:
		return "batch result"
	case KindRefused:
		return "refused"
	case KindKept:
		return "kept"
	case KindRights:
		return "rights"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// HeaderLen is the length of a frame header: length, kind and call id.
const HeaderLen = 4 + 1 + 8

// ErrFrameTooLarge is wrapped by ReadFrame and ReadPeerFrame when a length
// exceeds the limit, and by WriteFrames when a body does not fit a frame.
var ErrFrameTooLarge = errors.New("frame too large")

// Frame is one frame read from a channel.
type Frame struct {
	Kind Kind
	ID   uint64
	Body []byte
	// Files are the descriptors that arrived for the frame's handles; the
	// transport, not ReadFrame, fills them in.
	Files []*os.File
}

// AppendFrame appends the encoded frame to dst.
func AppendFrame(dst []byte, kind Kind, id uint64, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+8+len(body)))
	dst = append(dst, byte(kind))
	dst = binary.BigEndian.AppendUint64(dst, id)
	return append(dst, body...)
}

// WriteFrame writes one frame whose body is in one piece.
func WriteFrame(w io.Writer, kind Kind, id uint64, body []byte) error {
	return WriteFrames(w, nil, kind, id, Payload{body})
}

// Payload is a frame body in pieces, so that a large raw value is written
// from where it lies instead of being copied into one buffer first.
type Payload [][]byte

// Size is the length of the body.
func (p Payload) Size() int {
	n := 0
	for _, b := range p {
		n += len(b)
	}
	return n
}

// Bytes joins the pieces.
func (p Payload) Bytes() []byte {
	out := make([]byte, 0, p.Size())
	for _, b := range p {
		out = append(out, b...)
	}
	return out
}

// BigPiece is the size from which a piece is written on its own.
const BigPiece = 64 << 10

// WriteFrames writes prefix (whole frames already encoded, may be nil) and
// then one frame whose body is body, coalescing small pieces into as few
// writes as possible and writing big ones without copying them.
func WriteFrames(w io.Writer, prefix []byte, kind Kind, id uint64, body Payload) error {
	n := body.Size()
	if int64(n)+9 > math.MaxUint32 {
		return fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	buf := make([]byte, 0, len(prefix)+HeaderLen+min(n, BigPiece))
	buf = append(buf, prefix...)
	buf = binary.BigEndian.AppendUint32(buf, uint32(1+8+n))
	buf = append(buf, byte(kind))
	buf = binary.BigEndian.AppendUint64(buf, id)
	for _, b := range body {
		if len(b) < BigPiece {
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

// EndOfStream is a frame header of zeros, which ReadFrame takes for the
// end of the stream: a channel without a half-close (a Windows pipe) sends
// it where a socket shuts its sending side down.
var EndOfStream = [HeaderLen]byte{}

// ReadFrame reads one frame from a peer that has not authenticated, refusing
// lengths over max before allocating and growing the body only as its bytes
// arrive. It returns io.EOF only when the stream ends cleanly between frames.
func ReadFrame(r io.Reader, max int64) (Frame, error) { return readFrameFrom(r, max, false) }

// ReadPeerFrame reads one frame from an authenticated peer (our own parent
// or child): the body, bounded by max, is allocated at once, which saves a
// copy of every large value.
func ReadPeerFrame(r io.Reader, max int64) (Frame, error) { return readFrameFrom(r, max, true) }

func readFrameFrom(r io.Reader, max int64, trusted bool) (Frame, error) {
	var hdr [HeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Frame{}, fmt.Errorf("truncated frame header: %w", err)
		}
		return Frame{}, err
	}
	n := int64(binary.BigEndian.Uint32(hdr[:4]))
	if n == 0 && hdr == [HeaderLen]byte{} {
		return Frame{}, io.EOF // EndOfStream
	}
	if n < 9 {
		return Frame{}, fmt.Errorf("frame length %d is shorter than its header", n)
	}
	if n > max {
		// max is package mp's SetMaxFrameSize (or a handshake's own
		// limit), hence the hint.
		return Frame{}, fmt.Errorf("%w: %d bytes, limit %d (see SetMaxFrameSize)", ErrFrameTooLarge, n, max)
	}
	f := Frame{Kind: Kind(hdr[4]), ID: binary.BigEndian.Uint64(hdr[5:])}
	body, err := readBody(r, int(n-9), trusted)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, fmt.Errorf("truncated %v frame: %w", f.Kind, err)
	}
	f.Body = body
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

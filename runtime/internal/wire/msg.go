package wire

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
)

// ProtocolVersion is the version of the parent/child protocol. A child
// refuses a hello of any other version.
const ProtocolVersion = 1

// HelloMagic opens every hello, so that a child tells a stray stream from
// its parent's handshake.
const HelloMagic = "mpgen-hello"

// Hello is the parent's handshake, the first frame on the control channel.
// It names the child (by pid) and its parent, carries the authkey and the
// child's identity, and ends with an HMAC-SHA256 under the authkey of
// everything before it. The child checks that the pids are its own and its
// parent's, so a recorded hello cannot be replayed into another process.
type Hello struct {
	Nonce      []byte
	ParentPid  int
	ChildPid   int
	Authkey    []byte
	Ident      []int
	Name       string
	Daemon     bool
	ParentName string
	MaxFrame   int64
	Worker     bool  // serve calls until the channel closes (a Pool worker)
	Inherited  []int // descriptors the parent holds without close-on-exec
}

// Encode encodes the hello and signs it under its authkey.
func (h *Hello) Encode() []byte {
	var b Encoder
	b.Str(HelloMagic)
	b.Uvarint(ProtocolVersion)
	b.Bytes(h.Nonce)
	b.Uvarint(uint64(h.ParentPid))
	b.Uvarint(uint64(h.ChildPid))
	b.Bytes(h.Authkey)
	b.Uvarint(uint64(len(h.Ident)))
	for _, n := range h.Ident {
		b.Uvarint(uint64(n))
	}
	b.Str(h.Name)
	b.Bool(h.Daemon)
	b.Str(h.ParentName)
	b.Uvarint(uint64(h.MaxFrame))
	b.Bool(h.Worker)
	b.Uvarint(uint64(len(h.Inherited)))
	for _, fd := range h.Inherited {
		b.Uvarint(uint64(fd))
	}
	mac := hmac.New(sha256.New, h.Authkey)
	mac.Write(b)
	b.Bytes(mac.Sum(nil))
	return b
}

// ErrBadHello is wrapped by every error of DecodeHello.
var ErrBadHello = errors.New("bad handshake")

// DecodeHello decodes a hello and checks its magic, version, key lengths and
// MAC. The pids are for the caller to check.
func DecodeHello(body []byte) (*Hello, error) {
	r := Decoder{b: body}
	if m := r.Str(); r.err == nil && m != HelloMagic {
		return nil, fmt.Errorf("%w: not an mpgen hello", ErrBadHello)
	}
	if v := r.Uvarint(); r.err == nil && v != ProtocolVersion {
		return nil, fmt.Errorf("%w: protocol version %d, this binary speaks %d", ErrBadHello, v, ProtocolVersion)
	}
	h := &Hello{}
	h.Nonce = r.Bytes()
	h.ParentPid = int(r.Uvarint())
	h.ChildPid = int(r.Uvarint())
	h.Authkey = r.Bytes()
	n := r.Count(1)
	for i := 0; i < n; i++ {
		h.Ident = append(h.Ident, int(r.Uvarint()))
	}
	h.Name = r.Str()
	h.Daemon = r.Bool()
	h.ParentName = r.Str()
	h.MaxFrame = int64(r.Uvarint())
	h.Worker = r.Bool()
	n = r.Count(1)
	for i := 0; i < n; i++ {
		h.Inherited = append(h.Inherited, int(r.Uvarint()))
	}
	signed := len(body) - len(r.b)
	sum := r.Bytes()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHello, err)
	}
	if len(h.Nonce) < 16 || len(h.Authkey) < 16 {
		return nil, fmt.Errorf("%w: nonce or authkey too short", ErrBadHello)
	}
	mac := hmac.New(sha256.New, h.Authkey)
	mac.Write(body[:signed])
	if !hmac.Equal(mac.Sum(nil), sum) {
		return nil, fmt.Errorf("%w: MAC does not match", ErrBadHello)
	}
	return h, nil
}

// Call asks a child to run a target.
type Call struct {
	Target string // the target's registered name
	Codec  string // the codec's name
	Args   []Value
	// Carrier holds the values the caller's context propagates into the
	// target's (a trace context: package mp's Propagator). It follows the
	// arguments only when it is not empty, so a call without one encodes as
	// before it existed.
	Carrier map[string]string
}

// Value is one serialized value; a nil pointer, slice or map travels
// as absent and arrives as the zero value. A byte slice travels raw, without
// the codec, and the receiver's value aliases the frame it arrived in.
type Value struct {
	Present bool
	Raw     bool // raw bytes
	Fast    bool // the basic form (package mp's values.go)
	Handle  bool // a handle (package mp's handle.go): Data is its meta
	Data    []byte
	// NFiles is how many descriptors a handle travels with, and Files,
	// once they are known, are those descriptors: on the sending side the
	// call's own duplicates, on the receiving side those that arrived.
	NFiles int
	Files  []*os.File
}

// MaxFiles bounds the descriptors one frame or message may carry (Linux's
// SCM_MAX_FD is 253).
const MaxFiles = 64

// The forms of a Value on the wire: its first byte.
const (
	FormAbsent = 0
	FormCodec  = 1
	FormRaw    = 2
	FormFast   = 3
	FormHandle = 4
)

// Form is the byte that starts v's encoding.
func (v Value) Form() byte {
	switch {
	case !v.Present:
		return FormAbsent
	case v.Raw:
		return FormRaw
	case v.Fast:
		return FormFast
	case v.Handle:
		return FormHandle
	}
	return FormCodec
}

// Value appends v: its form, its data and, for a handle, its number of
// descriptors (the descriptors themselves travel beside the frame).
func (b *Encoder) Value(v Value) {
	*b = append(*b, v.Form())
	if v.Present {
		b.Bytes(v.Data)
	}
	if v.Handle {
		b.Uvarint(uint64(v.NFiles))
	}
}

// Size is the length of v's encoding (Encoder.Value), computed without
// encoding it.
func (v Value) Size() int {
	n := 1
	if v.Present {
		n += uvarintLen(uint64(len(v.Data))) + len(v.Data)
	}
	if v.Handle {
		n += uvarintLen(uint64(v.NFiles))
	}
	return n
}

// uvarintLen is the length of v's uvarint encoding.
func uvarintLen(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// Value reads a Value; a handle that claims more than MaxFiles descriptors
// is an error. Its Data aliases the input.
func (r *Decoder) Value() Value {
	if r.err != nil {
		return Value{}
	}
	if len(r.b) == 0 {
		r.Fail(ErrShortBody)
		return Value{}
	}
	form := r.b[0]
	r.b = r.b[1:]
	switch form {
	case FormAbsent:
		return Value{}
	case FormCodec, FormRaw, FormFast:
		return Value{Present: true, Raw: form == FormRaw, Fast: form == FormFast, Data: r.Bytes()}
	case FormHandle:
		v := Value{Present: true, Handle: true, Data: r.Bytes()}
		n := r.Uvarint()
		if n > MaxFiles {
			r.Fail(fmt.Errorf("a handle with %d descriptors (at most %d)", n, MaxFiles))
			return Value{}
		}
		v.NFiles = int(n)
		return v
	}
	r.Fail(fmt.Errorf("bad value form %d", form))
	return Value{}
}

// pieces builds a Payload: small fields go into a shared buffer, a big
// value's bytes become a piece of their own.
type pieces struct {
	out Payload
	cur Encoder
}

func (p *pieces) value(v Value) {
	if len(v.Data) < BigPiece || v.Handle {
		p.cur.Value(v)
		return
	}
	p.cur = append(p.cur, v.Form())
	p.cur.Uvarint(uint64(len(v.Data)))
	p.out = append(p.out, p.cur, v.Data)
	p.cur = nil
}

func (p *pieces) done() Payload {
	if len(p.cur) > 0 {
		p.out = append(p.out, p.cur)
	}
	return p.out
}

// Encode encodes the call in one piece.
func (c *Call) Encode() []byte { return c.Payload().Bytes() }

// Payload encodes the call, each big value's bytes a piece of their own.
func (c *Call) Payload() Payload {
	var p pieces
	p.cur.Str(c.Target)
	p.cur.Str(c.Codec)
	p.cur.Uvarint(uint64(len(c.Args)))
	for _, a := range c.Args {
		p.value(a)
	}
	p.cur.Carrier(c.Carrier)
	return p.done()
}

// Size is the length of the call's encoding (Encode, Payload), computed
// without encoding it: a sender checks it against the receiver's frame
// limit before it builds anything.
func (c *Call) Size() int {
	n := uvarintLen(uint64(len(c.Target))) + len(c.Target) +
		uvarintLen(uint64(len(c.Codec))) + len(c.Codec) + uvarintLen(uint64(len(c.Args)))
	for _, a := range c.Args {
		n += a.Size()
	}
	return n + carrierSize(c.Carrier)
}

// NFiles is how many descriptors the call's handles travel with.
func (c *Call) NFiles() int {
	n := 0
	for _, a := range c.Args {
		n += a.NFiles
	}
	return n
}

// Adopt gives the call's handles the descriptors that arrived with it, in
// order. If their number is not what the call's handles need, it closes
// them all and fails.
func (c *Call) Adopt(files []*os.File) error {
	if len(files) != c.NFiles() {
		closeFiles(files)
		return fmt.Errorf("the call's handles need %d descriptors, %d arrived", c.NFiles(), len(files))
	}
	for i := range c.Args {
		n := c.Args[i].NFiles
		c.Args[i].Files, files = files[:n:n], files[n:]
	}
	return nil
}

// DecodeCall decodes a call frame's body. The values' Files are unset: see
// Adopt.
func DecodeCall(body []byte) (*Call, error) {
	r := Decoder{b: body}
	c := &Call{Target: r.Str(), Codec: r.Str()}
	n := r.Count(1)
	if n > 0 {
		c.Args = make([]Value, 0, n)
	}
	for i := 0; i < n; i++ {
		c.Args = append(c.Args, r.Value())
	}
	c.Carrier = r.Carrier()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("call frame: %w", err)
	}
	return c, nil
}

// EncodeResult encodes a result frame's body in one piece.
func EncodeResult(v Value) []byte { return ResultPayload(v).Bytes() }

// ResultPayload encodes a result frame's body, a big value's bytes a piece
// of their own.
func ResultPayload(v Value) Payload {
	var p pieces
	p.value(v)
	return p.done()
}

// DecodeResult decodes a result frame's body.
func DecodeResult(body []byte) (Value, error) {
	r := Decoder{b: body}
	v := r.Value()
	if err := r.Done(); err != nil {
		return Value{}, fmt.Errorf("result frame: %w", err)
	}
	return v, nil
}

// ErrorMsg carries an error a target returned: its message, its dynamic
// type, the registered sentinels it matches (errors.Is) and registered error
// types found in its chain (errors.As), serialized.
type ErrorMsg struct {
	Message   string
	Type      string
	Sentinels []string // registered names of the sentinels
	Typed     []TypedError
}

// TypedError is an error of a registered type found in a chain: the type's
// registered name and the error, serialized.
type TypedError struct {
	Name string
	Data []byte
}

// Encode encodes the error message.
func (e *ErrorMsg) Encode() []byte {
	var b Encoder
	b.Str(e.Message)
	b.Str(e.Type)
	b.Uvarint(uint64(len(e.Sentinels)))
	for _, s := range e.Sentinels {
		b.Str(s)
	}
	b.Uvarint(uint64(len(e.Typed)))
	for _, t := range e.Typed {
		b.Str(t.Name)
		b.Bytes(t.Data)
	}
	return b
}

// DecodeError decodes an error frame's body.
func DecodeError(body []byte) (*ErrorMsg, error) {
	r := Decoder{b: body}
	e := &ErrorMsg{Message: r.Str(), Type: r.Str()}
	n := r.Count(1)
	for i := 0; i < n; i++ {
		e.Sentinels = append(e.Sentinels, r.Str())
	}
	n = r.Count(2)
	for i := 0; i < n; i++ {
		e.Typed = append(e.Typed, TypedError{Name: r.Str(), Data: r.Bytes()})
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("error frame: %w", err)
	}
	return e, nil
}

// PanicMsg carries a panic in a target: the value as text, its type and the
// child's stack.
type PanicMsg struct {
	Value string
	Type  string
	Stack string
}

// Encode encodes the panic message.
func (p *PanicMsg) Encode() []byte {
	var b Encoder
	b.Str(p.Value)
	b.Str(p.Type)
	b.Str(p.Stack)
	return b
}

// DecodePanic decodes a panic frame's body.
func DecodePanic(body []byte) (*PanicMsg, error) {
	r := Decoder{b: body}
	p := &PanicMsg{Value: r.Str(), Type: r.Str(), Stack: r.Str()}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("panic frame: %w", err)
	}
	return p, nil
}

// Batch asks a worker to run one target over many argument lists (a
// chunk of Pool.Map). With one serialized parameter the arguments travel as
// one encoded slice of that parameter's type (Slice set); otherwise as N
// lists of encoded arguments (Tuples set).
type Batch struct {
	Target string
	Codec  string
	N      int
	Slice  Value
	Tuples [][]Value
	// Carrier is the Map call's propagated values, as Call's: every item
	// runs in a context with them.
	Carrier map[string]string
}

// Encode encodes the batch.
func (m *Batch) Encode() []byte {
	b := make(Encoder, 0, 64+len(m.Target)+len(m.Slice.Data))
	b.Str(m.Target)
	b.Str(m.Codec)
	b.Uvarint(uint64(m.N))
	b.Bool(m.Tuples != nil)
	if m.Tuples == nil {
		b.Value(m.Slice)
	} else {
		b.Uvarint(uint64(len(m.Tuples)))
		for _, t := range m.Tuples {
			b.Uvarint(uint64(len(t)))
			for _, a := range t {
				b.Value(a)
			}
		}
	}
	b.Carrier(m.Carrier)
	return b
}

// DecodeBatch decodes a batch frame's body.
func DecodeBatch(body []byte) (*Batch, error) {
	r := Decoder{b: body}
	m := &Batch{Target: r.Str(), Codec: r.Str()}
	m.N = int(r.Uvarint())
	if r.Bool() {
		n := r.Count(1)
		if r.err == nil && n != m.N {
			r.Fail(fmt.Errorf("batch of %d carries %d argument lists", m.N, n))
		}
		m.Tuples = make([][]Value, 0, n)
		for i := 0; i < n && r.err == nil; i++ {
			k := r.Count(1)
			t := make([]Value, 0, k)
			for j := 0; j < k; j++ {
				t = append(t, r.Value())
			}
			m.Tuples = append(m.Tuples, t)
		}
	} else {
		m.Slice = r.Value()
	}
	m.Carrier = r.Carrier()
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("batch frame: %w", err)
	}
	return m, nil
}

// BatchResult carries the outcomes of a batch: the results as one
// encoded slice (zero values where a call failed) and the failures.
type BatchResult struct {
	Results  Value
	Failures []BatchFailure
}

// BatchFailure is the outcome of one call of a batch that did not return.
type BatchFailure struct {
	Index int
	Kind  Kind   // KindError or KindPanic
	Body  []byte // an ErrorMsg or PanicMsg encoding
}

// Encode encodes the outcomes.
func (m *BatchResult) Encode() []byte {
	b := make(Encoder, 0, 16+len(m.Results.Data))
	b.Value(m.Results)
	b.Uvarint(uint64(len(m.Failures)))
	for _, f := range m.Failures {
		b.Uvarint(uint64(f.Index))
		*(&b) = append(b, byte(f.Kind))
		b.Bytes(f.Body)
	}
	return b
}

// DecodeBatchResult decodes a batch result frame's body; a failure of a
// kind other than KindError or KindPanic is an error.
func DecodeBatchResult(body []byte) (*BatchResult, error) {
	r := Decoder{b: body}
	m := &BatchResult{Results: r.Value()}
	n := r.Count(3)
	for i := 0; i < n && r.err == nil; i++ {
		f := BatchFailure{Index: int(r.Uvarint())}
		if len(r.b) == 0 {
			r.Fail(ErrShortBody)
			break
		}
		f.Kind = Kind(r.b[0])
		r.b = r.b[1:]
		f.Body = r.Bytes()
		if f.Kind != KindError && f.Kind != KindPanic {
			r.Fail(fmt.Errorf("batch failure of kind %v", f.Kind))
		}
		m.Failures = append(m.Failures, f)
	}
	if err := r.Done(); err != nil {
		return nil, fmt.Errorf("batch result frame: %w", err)
	}
	return m, nil
}

// Carrier appends a call's carrier when it is not empty: its number of
// entries, then each key and value, keys in order (so that a call encodes
// the same way every time). An empty carrier appends nothing.
func (b *Encoder) Carrier(m map[string]string) {
	if len(m) == 0 {
		return
	}
	b.Uvarint(uint64(len(m)))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.Str(k)
		b.Str(m[k])
	}
}

// carrierSize is the length of m's encoding (Encoder.Carrier).
func carrierSize(m map[string]string) int {
	if len(m) == 0 {
		return 0
	}
	n := uvarintLen(uint64(len(m)))
	for k, v := range m {
		n += uvarintLen(uint64(len(k))) + len(k) + uvarintLen(uint64(len(v))) + len(v)
	}
	return n
}

// Carrier reads a carrier that ends a call or batch body: nil when the body
// ends here. One that is there holds at least one entry, in key order
// without repeats, as Encoder.Carrier writes it.
func (r *Decoder) Carrier() map[string]string {
	if r.err != nil || len(r.b) == 0 {
		return nil
	}
	n := r.Count(2)
	if r.err == nil && n == 0 {
		r.Fail(errors.New("an empty carrier"))
	}
	if r.err != nil {
		return nil
	}
	m := make(map[string]string, n)
	last := ""
	for i := 0; i < n && r.err == nil; i++ {
		k, v := r.Str(), r.Str()
		if r.err == nil && i > 0 && k <= last {
			r.Fail(fmt.Errorf("carrier key %q out of order", k))
		}
		m[k], last = v, k
	}
	if r.err != nil {
		return nil
	}
	return m
}

// closeFiles closes files, ignoring errors: they are descriptors nobody
// will use any more.
func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

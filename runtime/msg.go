package mp

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
)

// protocolVersion is the version of the parent/child protocol. A child
// refuses a hello of any other version.
const protocolVersion = 1

const helloMagic = "mpgen-hello"

// hello is the parent's handshake, the first frame on the control channel.
// It names the child (by pid) and its parent, carries the authkey and the
// child's identity, and ends with an HMAC-SHA256 under the authkey of
// everything before it. The child checks that the pids are its own and its
// parent's, so a recorded hello cannot be replayed into another process.
type hello struct {
	nonce      []byte
	parentPid  int
	childPid   int
	authkey    []byte
	ident      []int
	name       string
	daemon     bool
	parentName string
	maxFrame   int64
	worker     bool  // serve calls until the channel closes (a Pool worker)
	inherited  []int // descriptors the parent holds without close-on-exec
}

func (h *hello) encode() []byte {
	var b wbuf
	b.string(helloMagic)
	b.uvarint(protocolVersion)
	b.bytes(h.nonce)
	b.uvarint(uint64(h.parentPid))
	b.uvarint(uint64(h.childPid))
	b.bytes(h.authkey)
	b.uvarint(uint64(len(h.ident)))
	for _, n := range h.ident {
		b.uvarint(uint64(n))
	}
	b.string(h.name)
	b.bool(h.daemon)
	b.string(h.parentName)
	b.uvarint(uint64(h.maxFrame))
	b.bool(h.worker)
	b.uvarint(uint64(len(h.inherited)))
	for _, fd := range h.inherited {
		b.uvarint(uint64(fd))
	}
	mac := hmac.New(sha256.New, h.authkey)
	mac.Write(b)
	b.bytes(mac.Sum(nil))
	return b
}

var errBadHello = errors.New("bad handshake")

func decodeHello(body []byte) (*hello, error) {
	r := rbuf{b: body}
	if m := r.string(); r.err == nil && m != helloMagic {
		return nil, fmt.Errorf("%w: not an mpgen hello", errBadHello)
	}
	if v := r.uvarint(); r.err == nil && v != protocolVersion {
		return nil, fmt.Errorf("%w: protocol version %d, this binary speaks %d", errBadHello, v, protocolVersion)
	}
	h := &hello{}
	h.nonce = r.bytes()
	h.parentPid = int(r.uvarint())
	h.childPid = int(r.uvarint())
	h.authkey = r.bytes()
	n := r.count(1)
	for i := 0; i < n; i++ {
		h.ident = append(h.ident, int(r.uvarint()))
	}
	h.name = r.string()
	h.daemon = r.bool()
	h.parentName = r.string()
	h.maxFrame = int64(r.uvarint())
	h.worker = r.bool()
	n = r.count(1)
	for i := 0; i < n; i++ {
		h.inherited = append(h.inherited, int(r.uvarint()))
	}
	signed := len(body) - len(r.b)
	sum := r.bytes()
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadHello, err)
	}
	if len(h.nonce) < 16 || len(h.authkey) < 16 {
		return nil, fmt.Errorf("%w: nonce or authkey too short", errBadHello)
	}
	mac := hmac.New(sha256.New, h.authkey)
	mac.Write(body[:signed])
	if !hmac.Equal(mac.Sum(nil), sum) {
		return nil, fmt.Errorf("%w: MAC does not match", errBadHello)
	}
	return h, nil
}

// callMsg asks a child to run a target.
type callMsg struct {
	target string
	codec  string
	args   []encodedValue
}

// encodedValue is one serialized value; a nil pointer, slice or map travels
// as absent and arrives as the zero value. A byte slice travels raw, without
// the codec, and the receiver's value aliases the frame it arrived in.
type encodedValue struct {
	present bool
	raw     bool // raw bytes
	fast    bool // the basic form (fastval.go)
	handle  bool // a handle (handle.go): data is its meta
	data    []byte
	// nfiles is how many descriptors a handle travels with, and files,
	// once they are known, are those descriptors: on the sending side the
	// call's own duplicates, on the receiving side those that arrived.
	nfiles int
	files  []*os.File
}

// The forms of an encodedValue on the wire.
const (
	formAbsent = 0
	formCodec  = 1
	formRaw    = 2
	formFast   = 3
	formHandle = 4
)

func (v encodedValue) form() byte {
	switch {
	case !v.present:
		return formAbsent
	case v.raw:
		return formRaw
	case v.fast:
		return formFast
	case v.handle:
		return formHandle
	}
	return formCodec
}

func (b *wbuf) value(v encodedValue) {
	*b = append(*b, v.form())
	if v.present {
		b.bytes(v.data)
	}
	if v.handle {
		b.uvarint(uint64(v.nfiles))
	}
}

func (r *rbuf) value() encodedValue {
	if r.err != nil {
		return encodedValue{}
	}
	if len(r.b) == 0 {
		r.fail(errShortBody)
		return encodedValue{}
	}
	form := r.b[0]
	r.b = r.b[1:]
	switch form {
	case formAbsent:
		return encodedValue{}
	case formCodec, formRaw, formFast:
		return encodedValue{present: true, raw: form == formRaw, fast: form == formFast, data: r.bytes()}
	case formHandle:
		v := encodedValue{present: true, handle: true, data: r.bytes()}
		n := r.uvarint()
		if n > maxPassedFiles {
			r.fail(fmt.Errorf("a handle with %d descriptors (at most %d)", n, maxPassedFiles))
			return encodedValue{}
		}
		v.nfiles = int(n)
		return v
	}
	r.fail(fmt.Errorf("bad value form %d", form))
	return encodedValue{}
}

// pieces builds a payload: small fields go into a shared buffer, a big
// value's bytes become a piece of their own.
type pieces struct {
	out payload
	cur wbuf
}

func (p *pieces) value(v encodedValue) {
	if len(v.data) < bigPiece || v.handle {
		p.cur.value(v)
		return
	}
	p.cur = append(p.cur, v.form())
	p.cur.uvarint(uint64(len(v.data)))
	p.out = append(p.out, p.cur, v.data)
	p.cur = nil
}

func (p *pieces) done() payload {
	if len(p.cur) > 0 {
		p.out = append(p.out, p.cur)
	}
	return p.out
}

func (c *callMsg) encode() []byte { return c.payload().bytes() }

func (c *callMsg) payload() payload {
	var p pieces
	p.cur.string(c.target)
	p.cur.string(c.codec)
	p.cur.uvarint(uint64(len(c.args)))
	for _, a := range c.args {
		p.value(a)
	}
	return p.done()
}

// nfiles is how many descriptors the call's handles travel with.
func (c *callMsg) nfiles() int {
	n := 0
	for _, a := range c.args {
		n += a.nfiles
	}
	return n
}

// adopt gives the call's handles the descriptors that arrived with it.
func (c *callMsg) adopt(files []*os.File) error {
	if len(files) != c.nfiles() {
		closeFiles(files)
		return fmt.Errorf("the call's handles need %d descriptors, %d arrived", c.nfiles(), len(files))
	}
	for i := range c.args {
		n := c.args[i].nfiles
		c.args[i].files, files = files[:n:n], files[n:]
	}
	return nil
}

func decodeCall(body []byte) (*callMsg, error) {
	r := rbuf{b: body}
	c := &callMsg{target: r.string(), codec: r.string()}
	n := r.count(1)
	if n > 0 {
		c.args = make([]encodedValue, 0, n)
	}
	for i := 0; i < n; i++ {
		c.args = append(c.args, r.value())
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("call frame: %w", err)
	}
	return c, nil
}

func encodeResult(v encodedValue) []byte { return resultPayload(v).bytes() }

func resultPayload(v encodedValue) payload {
	var p pieces
	p.value(v)
	return p.done()
}

func decodeResult(body []byte) (encodedValue, error) {
	r := rbuf{b: body}
	v := r.value()
	if err := r.done(); err != nil {
		return encodedValue{}, fmt.Errorf("result frame: %w", err)
	}
	return v, nil
}

// errorMsg carries an error a target returned: its message, its dynamic
// type, the registered sentinels it matches (errors.Is) and registered error
// types found in its chain (errors.As), serialized.
type errorMsg struct {
	message   string
	typ       string
	sentinels []string
	typed     []typedError
}

type typedError struct {
	name string
	data []byte
}

func (e *errorMsg) encode() []byte {
	var b wbuf
	b.string(e.message)
	b.string(e.typ)
	b.uvarint(uint64(len(e.sentinels)))
	for _, s := range e.sentinels {
		b.string(s)
	}
	b.uvarint(uint64(len(e.typed)))
	for _, t := range e.typed {
		b.string(t.name)
		b.bytes(t.data)
	}
	return b
}

func decodeError(body []byte) (*errorMsg, error) {
	r := rbuf{b: body}
	e := &errorMsg{message: r.string(), typ: r.string()}
	n := r.count(1)
	for i := 0; i < n; i++ {
		e.sentinels = append(e.sentinels, r.string())
	}
	n = r.count(2)
	for i := 0; i < n; i++ {
		e.typed = append(e.typed, typedError{name: r.string(), data: r.bytes()})
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("error frame: %w", err)
	}
	return e, nil
}

// panicMsg carries a panic in a target: the value as text, its type and the
// child's stack.
type panicMsg struct {
	value string
	typ   string
	stack string
}

func (p *panicMsg) encode() []byte {
	var b wbuf
	b.string(p.value)
	b.string(p.typ)
	b.string(p.stack)
	return b
}

func decodePanic(body []byte) (*panicMsg, error) {
	r := rbuf{b: body}
	p := &panicMsg{value: r.string(), typ: r.string(), stack: r.string()}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("panic frame: %w", err)
	}
	return p, nil
}

// batchMsg asks a worker to run one target over many argument lists (a
// chunk of Pool.Map). With one serialized parameter the arguments travel as
// one encoded slice of that parameter's type (slice set); otherwise as n
// lists of encoded arguments (tuples set).
type batchMsg struct {
	target string
	codec  string
	n      int
	slice  encodedValue
	tuples [][]encodedValue
}

func (m *batchMsg) encode() []byte {
	b := make(wbuf, 0, 64+len(m.target)+len(m.slice.data))
	b.string(m.target)
	b.string(m.codec)
	b.uvarint(uint64(m.n))
	b.bool(m.tuples != nil)
	if m.tuples == nil {
		b.value(m.slice)
		return b
	}
	b.uvarint(uint64(len(m.tuples)))
	for _, t := range m.tuples {
		b.uvarint(uint64(len(t)))
		for _, a := range t {
			b.value(a)
		}
	}
	return b
}

func decodeBatch(body []byte) (*batchMsg, error) {
	r := rbuf{b: body}
	m := &batchMsg{target: r.string(), codec: r.string()}
	m.n = int(r.uvarint())
	if r.bool() {
		n := r.count(1)
		if r.err == nil && n != m.n {
			r.fail(fmt.Errorf("batch of %d carries %d argument lists", m.n, n))
		}
		m.tuples = make([][]encodedValue, 0, n)
		for i := 0; i < n && r.err == nil; i++ {
			k := r.count(1)
			t := make([]encodedValue, 0, k)
			for j := 0; j < k; j++ {
				t = append(t, r.value())
			}
			m.tuples = append(m.tuples, t)
		}
	} else {
		m.slice = r.value()
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("batch frame: %w", err)
	}
	return m, nil
}

// batchResultMsg carries the outcomes of a batch: the results as one
// encoded slice (zero values where a call failed) and the failures.
type batchResultMsg struct {
	results  encodedValue
	failures []batchFailure
}

type batchFailure struct {
	index int
	kind  frameKind // kindError or kindPanic
	body  []byte    // an errorMsg or panicMsg encoding
}

func (m *batchResultMsg) encode() []byte {
	b := make(wbuf, 0, 16+len(m.results.data))
	b.value(m.results)
	b.uvarint(uint64(len(m.failures)))
	for _, f := range m.failures {
		b.uvarint(uint64(f.index))
		*(&b) = append(b, byte(f.kind))
		b.bytes(f.body)
	}
	return b
}

func decodeBatchResult(body []byte) (*batchResultMsg, error) {
	r := rbuf{b: body}
	m := &batchResultMsg{results: r.value()}
	n := r.count(3)
	for i := 0; i < n && r.err == nil; i++ {
		f := batchFailure{index: int(r.uvarint())}
		if len(r.b) == 0 {
			r.fail(errShortBody)
			break
		}
		f.kind = frameKind(r.b[0])
		r.b = r.b[1:]
		f.body = r.bytes()
		if f.kind != kindError && f.kind != kindPanic {
			r.fail(fmt.Errorf("batch failure of kind %v", f.kind))
		}
		m.failures = append(m.failures, f)
	}
	if err := r.done(); err != nil {
		return nil, fmt.Errorf("batch result frame: %w", err)
	}
	return m, nil
}

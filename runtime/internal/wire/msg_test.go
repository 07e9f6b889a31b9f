package wire

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestKindString(t *testing.T) {
	want := map[Kind]string{
		KindHello: "hello", KindCall: "call", KindResult: "result", KindError: "error", KindPanic: "panic",
		KindCancel: "cancel", KindBatch: "batch", KindBatchResult: "batch result", KindRefused: "refused", KindKept: "kept", KindRights: "rights",
		0: "kind(0)", 88: "kind(88)",
	}
	for k, s := range want {
		if k.String() != s {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(k), k.String(), s)
		}
	}
}

// Each form of a Value round-trips, and the first byte is its form.
func TestValueForms(t *testing.T) {
	for _, tc := range []struct {
		v    Value
		form byte
	}{
		{Value{}, FormAbsent},
		{Value{Present: true, Data: []byte("gob")}, FormCodec},
		{Value{Present: true, Raw: true, Data: []byte("raw")}, FormRaw},
		{Value{Present: true, Fast: true, Data: []byte{1, 2}}, FormFast},
		{Value{Present: true, Raw: true}, FormRaw},
		{Value{Present: true, Handle: true, Data: []byte("meta"), NFiles: MaxFiles}, FormHandle},
	} {
		if tc.v.Form() != tc.form {
			t.Errorf("%+v: form %d, want %d", tc.v, tc.v.Form(), tc.form)
		}
		var b Encoder
		tc.v.Files = []*os.File{os.Stdin} // descriptors never travel in the bytes
		b.Value(tc.v)
		if b[0] != tc.form {
			t.Errorf("%+v encodes with first byte %d", tc.v, b[0])
		}
		r := NewDecoder(b)
		got := r.Value()
		if err := r.Done(); err != nil {
			t.Fatalf("%+v: %v", tc.v, err)
		}
		want := tc.v
		want.Files = nil
		if len(want.Data) == 0 {
			want.Data, got.Data = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip: %+v, want %+v", got, want)
		}
	}
}

func TestValueDecodeErrors(t *testing.T) {
	var b Encoder
	b.Value(Value{Present: true, Handle: true, Data: []byte("m"), NFiles: MaxFiles + 1})
	r := NewDecoder(b)
	if v := r.Value(); v.Present || r.Err() == nil || !strings.Contains(r.Err().Error(), "descriptors") {
		t.Errorf("a handle over MaxFiles: %+v, %v", v, r.Err())
	}
	r = NewDecoder([]byte{9, 0})
	if r.Value(); r.Err() == nil || !strings.Contains(r.Err().Error(), "bad value form 9") {
		t.Errorf("unknown form: %v", r.Err())
	}
	r = NewDecoder(nil)
	if r.Value(); !errors.Is(r.Err(), ErrShortBody) {
		t.Errorf("empty input: %v", r.Err())
	}
}

// A big value's bytes are a piece of their own in a call's and a result's
// payload, written from where they lie; the joined payload is the call's
// encoding, and a handle is never split off.
func TestPayloadPieces(t *testing.T) {
	big := bytes.Repeat([]byte{7}, BigPiece)
	small := []byte("small")
	c := &Call{Target: "pkg.F", Codec: "gob", Args: []Value{
		{Present: true, Data: small},
		{Present: true, Raw: true, Data: big},
		{},
		{Present: true, Handle: true, Data: big, NFiles: 2},
	}}
	p := c.Payload()
	if len(p) != 3 || &p[1][0] != &big[0] || len(p[1]) != len(big) {
		t.Fatalf("payload of %d pieces; the big value is not one of them", len(p))
	}
	if !bytes.Equal(p.Bytes(), c.Encode()) || p.Size() != len(c.Encode()) {
		t.Fatal("the joined payload is not the call's encoding")
	}
	got, err := DecodeCall(c.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Target != c.Target || got.Codec != c.Codec || len(got.Args) != 4 ||
		!bytes.Equal(got.Args[0].Data, small) || !got.Args[1].Raw || !bytes.Equal(got.Args[1].Data, big) ||
		got.Args[2].Present || !got.Args[3].Handle || got.Args[3].NFiles != 2 || got.NFiles() != 2 {
		t.Fatalf("decoded %+v", got)
	}

	rp := ResultPayload(Value{Present: true, Data: big})
	if len(rp) != 2 || &rp[1][0] != &big[0] {
		t.Fatalf("result payload of %d pieces", len(rp))
	}
	v, err := DecodeResult(EncodeResult(Value{Present: true, Data: big}))
	if err != nil || !v.Present || !bytes.Equal(v.Data, big) {
		t.Fatalf("result round trip: %v", err)
	}
	if _, err := DecodeResult(append(EncodeResult(Value{}), 0)); err == nil || !strings.HasPrefix(err.Error(), "result frame: ") {
		t.Fatalf("result with a trailing byte: %v", err)
	}
}

// Size is the length of the encoding, for every form and for lengths
// whose uvarint takes one, two and three bytes.
func TestSize(t *testing.T) {
	var args []Value
	for _, n := range []int{0, 1, 127, 128, 16383, 16384, BigPiece + 1} {
		data := make([]byte, n)
		for _, v := range []Value{
			{}, {Present: true, Data: data}, {Present: true, Raw: true, Data: data}, {Present: true, Fast: true, Data: data},
			{Present: true, Handle: true, Data: data, NFiles: 1}, {Present: true, Handle: true, Data: data, NFiles: 200},
		} {
			var b Encoder
			b.Value(v)
			if v.Size() != len(b) {
				t.Errorf("Value{%d bytes, form %d, %d files}.Size() = %d, encoded %d", n, v.Form(), v.NFiles, v.Size(), len(b))
			}
			args = append(args, v)
		}
	}
	for _, c := range []*Call{
		{},
		{Target: "pkg.F", Codec: "gob"},
		{Target: strings.Repeat("t", 200), Codec: "json", Args: args},
		{Target: "pkg.G", Codec: "gob", Args: make([]Value, 300)},
	} {
		if enc := c.Encode(); c.Size() != len(enc) || c.Payload().Size() != len(enc) {
			t.Errorf("Call{%q, %d args}.Size() = %d, encoded %d", c.Target, len(c.Args), c.Size(), len(enc))
		}
	}
}

func pipeFiles(t *testing.T, n int) []*os.File {
	t.Helper()
	var out []*os.File
	for range (n + 1) / 2 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close(); w.Close() })
		out = append(out, r, w)
	}
	return out[:n]
}

// Adopt hands each handle its descriptors in order, or closes them all if
// their number is wrong.
func TestCallAdopt(t *testing.T) {
	c := &Call{Args: []Value{
		{Present: true, Handle: true, NFiles: 2},
		{Present: true},
		{Present: true, Handle: true, NFiles: 1},
	}}
	files := pipeFiles(t, 3)
	if err := c.Adopt(files); err != nil {
		t.Fatal(err)
	}
	if len(c.Args[0].Files) != 2 || c.Args[0].Files[0] != files[0] || c.Args[0].Files[1] != files[1] ||
		len(c.Args[1].Files) != 0 || len(c.Args[2].Files) != 1 || c.Args[2].Files[0] != files[2] {
		t.Fatalf("files handed out as %v, %v, %v", c.Args[0].Files, c.Args[1].Files, c.Args[2].Files)
	}

	wrong := pipeFiles(t, 2)
	err := c.Adopt(wrong)
	if err == nil || !strings.Contains(err.Error(), "need 3 descriptors, 2 arrived") {
		t.Fatalf("two descriptors for three: %v", err)
	}
	// Closing again reports os.ErrClosed only if Adopt closed the file. Stat
	// would not do on Windows: there os.File.Stat does not check for a closed
	// file and asks the system about the invalid handle Close leaves behind.
	for _, f := range wrong {
		if err := f.Close(); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("a descriptor of a refused call is still open: Close gave %v", err)
		}
	}
}

func TestBatchRoundTrip(t *testing.T) {
	slice := &Batch{Target: "pkg.F", Codec: "gob", N: 3, Slice: Value{Present: true, Fast: true, Data: []byte{1, 2, 3}}}
	got, err := DecodeBatch(slice.Encode())
	if err != nil || !reflect.DeepEqual(got, slice) {
		t.Fatalf("slice batch: %+v, %v; want %+v", got, err, slice)
	}

	tuples := &Batch{Target: "pkg.G", Codec: "json", N: 2, Tuples: [][]Value{
		{{Present: true, Data: []byte("1")}, {}},
		{{Present: true, Raw: true, Data: []byte("x")}, {Present: true, Data: []byte("2")}},
	}}
	got, err = DecodeBatch(tuples.Encode())
	if err != nil || !reflect.DeepEqual(got, tuples) {
		t.Fatalf("tuple batch: %+v, %v; want %+v", got, err, tuples)
	}

	liar := *tuples
	liar.N = 5
	if _, err := DecodeBatch(liar.Encode()); err == nil || !strings.Contains(err.Error(), "batch of 5 carries 2 argument lists") {
		t.Fatalf("batch whose count does not match its lists: %v", err)
	}
	enc := tuples.Encode()
	if _, err := DecodeBatch(enc[:len(enc)-1]); err == nil || !strings.HasPrefix(err.Error(), "batch frame: ") {
		t.Fatalf("batch cut short: %v", err)
	}
}

func TestBatchResultRoundTrip(t *testing.T) {
	m := &BatchResult{
		Results: Value{Present: true, Data: []byte("results")},
		Failures: []BatchFailure{
			{Index: 0, Kind: KindError, Body: (&ErrorMsg{Message: "no", Type: "*errors.errorString"}).Encode()},
			{Index: 7, Kind: KindPanic, Body: (&PanicMsg{Value: "ouch", Type: "string", Stack: "main.f()"}).Encode()},
		},
	}
	got, err := DecodeBatchResult(m.Encode())
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, m)
	}
	e, err := DecodeError(got.Failures[0].Body)
	if err != nil || e.Message != "no" {
		t.Fatalf("failure 0: %+v, %v", e, err)
	}

	bad := *m
	bad.Failures = []BatchFailure{{Index: 1, Kind: KindResult, Body: []byte("x")}}
	if _, err := DecodeBatchResult(bad.Encode()); err == nil || !strings.Contains(err.Error(), "batch failure of kind result") {
		t.Fatalf("a failure of kind result: %v", err)
	}
	enc := m.Encode()
	for n := range len(enc) {
		if _, err := DecodeBatchResult(enc[:n]); err == nil {
			t.Fatalf("a batch result cut at %d of %d decodes", n, len(enc))
		}
	}
}

// Errors of DecodeHello wrap ErrBadHello and say what is wrong.
func TestDecodeHelloErrors(t *testing.T) {
	h := &Hello{Nonce: bytes.Repeat([]byte{1}, 16), Authkey: bytes.Repeat([]byte{2}, 16), ChildPid: 3, ParentPid: 2, Worker: true, Inherited: []int{5, 6}}
	got, err := DecodeHello(h.Encode())
	if err != nil || !helloEqual(got, h) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	other := *h
	other.ChildPid = 4
	forged := append(other.Encode()[:len(h.Encode())-33], h.Encode()[len(h.Encode())-33:]...) // h's MAC on other's fields
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "input ends early"},
		{"foreign magic", []byte("\x0bmpgen-hellX\x01"), "not an mpgen hello"},
		{"future version", []byte("\x0bmpgen-hello\x02"), "protocol version 2"},
		{"short key", (&Hello{Nonce: h.Nonce, Authkey: h.Authkey[:15]}).Encode(), "nonce or authkey too short"},
		{"forged MAC", forged, "MAC does not match"},
		{"trailing byte", append(h.Encode(), 0), "unexpected bytes"},
	} {
		_, err := DecodeHello(tc.body)
		if !errors.Is(err, ErrBadHello) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want ErrBadHello and %q", tc.name, err, tc.want)
		}
	}
}

// A call's or batch's carrier follows its arguments only when it is not
// empty: without one the encoding is what it was before carriers existed,
// and with one it round-trips, keys in order, whatever the map's order.
func TestCarrier(t *testing.T) {
	plain := &Call{Target: "pkg.F", Codec: "gob", Args: []Value{{Present: true, Data: []byte{1}}}}
	old := []byte{5, 'p', 'k', 'g', '.', 'F', 3, 'g', 'o', 'b', 1, FormCodec, 1, 1}
	if enc := plain.Encode(); !bytes.Equal(enc, old) {
		t.Fatalf("a call without a carrier encodes as % x, want % x", enc, old)
	}
	plain.Carrier = map[string]string{}
	if enc := plain.Encode(); !bytes.Equal(enc, old) {
		t.Fatalf("a call with an empty carrier encodes as % x, want % x", enc, old)
	}
	if got, err := DecodeCall(old); err != nil || got.Carrier != nil {
		t.Fatalf("a call without a carrier decodes with %v, %v", got.Carrier, err)
	}

	c := *plain
	c.Carrier = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "baggage": "k=v", "a": ""}
	enc := c.Encode()
	want := append(Encoder(nil), old...)
	want.Uvarint(3)
	for _, k := range []string{"a", "baggage", "traceparent"} {
		want.Str(k)
		want.Str(c.Carrier[k])
	}
	if !bytes.Equal(enc, want) {
		t.Fatalf("carrier encoded as % x, want % x", enc, []byte(want))
	}
	for range 10 { // map order differs from run to run; the encoding does not
		if again := c.Encode(); !bytes.Equal(again, enc) {
			t.Fatalf("the same call encoded as % x, then % x", enc, again)
		}
	}
	if c.Size() != len(enc) || c.Payload().Size() != len(enc) {
		t.Fatalf("Size() = %d, encoded %d", c.Size(), len(enc))
	}
	got, err := DecodeCall(enc)
	if err != nil || !reflect.DeepEqual(got.Carrier, c.Carrier) || len(got.Args) != 1 {
		t.Fatalf("round trip: %+v, %v", got, err)
	}

	for name, body := range map[string][]byte{
		"empty":        append(append([]byte(nil), old...), 0),
		"out of order": append(append([]byte(nil), old...), 2, 1, 'b', 0, 1, 'a', 0),
		"repeated key": append(append([]byte(nil), old...), 2, 1, 'a', 0, 1, 'a', 0),
		"cut short":    enc[:len(enc)-1],
	} {
		if _, err := DecodeCall(body); err == nil || !strings.HasPrefix(err.Error(), "call frame: ") {
			t.Errorf("%s carrier: err %v, want a call frame error", name, err)
		}
	}

	for _, b := range []*Batch{
		{Target: "pkg.F", Codec: "gob", N: 1, Slice: Value{Present: true, Data: []byte{1}}, Carrier: c.Carrier},
		{Target: "pkg.G", Codec: "gob", N: 1, Tuples: [][]Value{{{}}}, Carrier: c.Carrier},
	} {
		got, err := DecodeBatch(b.Encode())
		if err != nil || !reflect.DeepEqual(got, b) {
			t.Errorf("batch round trip: %+v, %v; want %+v", got, err, b)
		}
		plain := *b
		plain.Carrier = nil
		if enc := b.Encode(); !bytes.HasPrefix(enc, plain.Encode()) || len(enc) == len(plain.Encode()) {
			t.Errorf("the batch's carrier does not follow its arguments: % x", enc)
		}
	}
}

package mp

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"fmt"
	"sync"
)

// A Codec serializes the arguments and results of targets. Parent and child
// must agree on it: the parent names its codec in each call and the child
// looks it up among the codecs registered in the same binary, so a custom
// codec must be registered (RegisterCodec) from an init function or a
// package-level variable, which run in the child too.
type Codec interface {
	// Name identifies the codec on the wire.
	Name() string
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the pointer v.
	Unmarshal(data []byte, v any) error
}

// The built-in codecs, registered under their names "gob" and "json".
var (
	// Gob is the default codec: encoding/gob, which carries every type a
	// target may take (basic types, structs, slices, maps, pointers,
	// time.Time, types implementing gob.GobEncoder or
	// encoding.BinaryMarshaler) and refuses malformed input with an error.
	Gob Codec = gobCodec{}
	// JSON is encoding/json, for payloads that should be readable or shared
	// with other languages. It cannot carry NaN or infinities.
	JSON Codec = jsonCodec{}
)

type gobCodec struct{}

// Name returns "gob".
func (gobCodec) Name() string { return "gob" }

// Marshal encodes v with a fresh gob encoder.
func (gobCodec) Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Unmarshal decodes data into v with a fresh gob decoder.
func (gobCodec) Unmarshal(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

type jsonCodec struct{}

// Name returns "json".
func (jsonCodec) Name() string { return "json" }

// Marshal encodes v as JSON.
func (jsonCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON data into v.
func (jsonCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

var codecs = struct {
	sync.RWMutex
	m map[string]Codec
}{m: map[string]Codec{"gob": gobCodec{}, "json": jsonCodec{}}}

// RegisterCodec makes c available to children by its name. It panics when
// another codec already has that name.
func RegisterCodec(c Codec) {
	codecs.Lock()
	defer codecs.Unlock()
	if _, dup := codecs.m[c.Name()]; dup {
		panic(fmt.Sprintf("mp: RegisterCodec: codec %q registered twice", c.Name()))
	}
	codecs.m[c.Name()] = c
}

func lookupCodec(name string) (Codec, bool) {
	codecs.RLock()
	defer codecs.RUnlock()
	c, ok := codecs.m[name]
	return c, ok
}

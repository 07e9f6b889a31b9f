package targets

import (
	"errors"
	"strings"
)

// Blob returns n zero bytes: a result of a chosen size, to push an outcome
// over the frame limit.
//
//mp:target
func Blob(n int) []byte { return make([]byte, n) }

// FailLong returns an error whose message is n bytes long.
//
//mp:target
func FailLong(n int) error { return errors.New(strings.Repeat("x", n)) }

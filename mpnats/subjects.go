package mpnats

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"

	"github.com/mpgen/mpgen/runtime/mpimpl"
)

// scheme is the version of the subject scheme below; the messages carry
// their own (protoVersion).
const scheme = "v1"

// The subjects and names of an app (see the package documentation).
type names struct {
	app     string
	direct  string // "mp.v1.<app>": + ".<target>.<sig>" for a direct call
	queue   string // "mpq.v1.<app>": the durable calls' subjects
	cancel  string // "mp.v1.<app>._cancel"
	service string // "mp-<app>", the micro service ($SRV.*.mp-<app>)
	group   string // "mp.<app>", the direct endpoints' queue group
	stream  string // "MP_<APP>", the durable calls' work queue
	objects string // "mp_<app>_objs", the bodies over the message limit
}

var appName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func namesOf(app string) (names, error) {
	if !appName.MatchString(app) {
		return names{}, fmt.Errorf("mpnats: App(%q): an app name is 1-64 letters, digits, '_' or '-' (it is part of subjects and stream names)", app)
	}
	return names{
		app:     app,
		direct:  "mp." + scheme + "." + app,
		queue:   "mpq." + scheme + "." + app,
		cancel:  "mp." + scheme + "." + app + "._cancel",
		service: "mp-" + app,
		group:   "mp." + app,
		stream:  "MP_" + strings.ToUpper(strings.ReplaceAll(app, "-", "_")),
		objects: "mp_" + app + "_objs",
	}, nil
}

// token makes a target's name one subject token: every character outside
// [A-Za-z0-9_-] becomes '_'.
func token(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		}
		return '_'
	}, name)
}

// directSubject is where the direct calls of s go.
func (n names) directSubject(s *mpimpl.Spec) string {
	return n.direct + "." + token(s.Name) + "." + Signature(s)
}

// queueSubject is where the durable calls of s go.
func (n names) queueSubject(s *mpimpl.Spec) string {
	return n.queue + "." + token(s.Name) + "." + Signature(s)
}

// signatures caches Signature by Spec: a call's subject is built on
// every send.
var signatures sync.Map // *mpimpl.Spec -> string

// Signature returns 8 hex digits that change when the target's calls
// would no longer decode the same in another build: a hash of its name,
// whether it takes a context, is variadic or is a type target, and the
// structure of its parameter and result types (named types by package
// and name, structs by their exported fields, recursively). Subjects carry
// it, so a worker built from incompatible code is not reached at all.
// Custom GobEncode or MarshalJSON methods are outside it.
func Signature(s *mpimpl.Spec) string {
	if sig, ok := signatures.Load(s); ok {
		return sig.(string)
	}
	sig := signature(s)
	signatures.Store(s, sig)
	return sig
}

func signature(s *mpimpl.Spec) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|ctx=%t|variadic=%t|type=%t|", s.Name, s.Context, s.Variadic, s.Type != nil)
	seen := map[reflect.Type]bool{}
	for _, p := range s.Params {
		b.WriteString(p.Name)
		b.WriteByte(':')
		describe(&b, p.Type, seen)
		b.WriteByte(',')
	}
	b.WriteString("->")
	if s.Result != nil {
		describe(&b, s.Result, seen)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:4])
}

// describe writes the structure of t that its encoding depends on.
func describe(b *strings.Builder, t reflect.Type, seen map[reflect.Type]bool) {
	if t.Name() != "" {
		fmt.Fprintf(b, "%s.%s", t.PkgPath(), t.Name())
		if seen[t] {
			return
		}
		seen[t] = true
		b.WriteByte('=')
	}
	switch t.Kind() {
	case reflect.Pointer:
		b.WriteByte('*')
		describe(b, t.Elem(), seen)
	case reflect.Slice:
		b.WriteString("[]")
		describe(b, t.Elem(), seen)
	case reflect.Array:
		fmt.Fprintf(b, "[%d]", t.Len())
		describe(b, t.Elem(), seen)
	case reflect.Map:
		b.WriteString("map[")
		describe(b, t.Key(), seen)
		b.WriteByte(']')
		describe(b, t.Elem(), seen)
	case reflect.Struct:
		b.WriteString("struct{")
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fmt.Fprintf(b, "%s %q ", f.Name, f.Tag)
			describe(b, f.Type, seen)
			b.WriteByte(';')
		}
		b.WriteByte('}')
	case reflect.Interface:
		b.WriteString("interface{")
		for i := range t.NumMethod() {
			b.WriteString(t.Method(i).Name)
			b.WriteByte(';')
		}
		b.WriteByte('}')
	default:
		b.WriteString(t.Kind().String())
	}
}

package mp

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/mpgen/mpgen/runtime/internal/registry"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// resolve returns the registered target that target names.
func resolve(target any) (*registry.Spec, error) { return registry.Resolve(target) }

// bind matches positional and keyword arguments to the spec's parameters,
// Python style, and converts each to its parameter's type. It returns one
// value per parameter.
func bind(s *registry.Spec, target any, args []any, kwargs map[string]any) ([]reflect.Value, error) {
	if s.Type != nil {
		if len(args) != 0 || len(kwargs) != 0 {
			return nil, &ArgError{Target: s.Name, Msg: "a type target takes no Args or Kwargs: its exported fields are its arguments"}
		}
		v := reflect.ValueOf(target)
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil, &ArgError{Target: s.Name, Msg: "Target is a nil pointer"}
			}
			v = v.Elem()
		}
		return []reflect.Value{v}, nil
	}
	n := len(s.Params)
	fixed := n
	if s.Variadic {
		fixed = n - 1
	}
	if !s.Variadic && len(args) > n {
		return nil, &ArgError{Target: s.Name, Msg: fmt.Sprintf("takes %d positional arguments but %d were given", n, len(args))}
	}
	out := make([]reflect.Value, n)
	set := make([]bool, n)
	for i, a := range args {
		if i >= fixed { // the rest go into the variadic slice
			break
		}
		v, err := convert(s, s.Params[i], i, a)
		if err != nil {
			return nil, err
		}
		out[i], set[i] = v, true
	}
	if s.Variadic && len(args) > fixed {
		p := s.Params[fixed]
		sl := reflect.MakeSlice(p.Type, 0, len(args)-fixed)
		for j, a := range args[fixed:] {
			v, err := convert(s, registry.Param{Name: fmt.Sprintf("%s[%d]", p.Name, j), Type: p.Type.Elem()}, fixed+j, a)
			if err != nil {
				return nil, err
			}
			sl = reflect.Append(sl, v)
		}
		out[fixed], set[fixed] = sl, true
	}
	for name, a := range kwargs {
		i := paramIndex(s, name)
		if i < 0 {
			return nil, &ArgError{Target: s.Name, Param: name, Msg: fmt.Sprintf("unexpected keyword argument (parameters: %s)", joinLines(paramNames(s)))}
		}
		if set[i] {
			return nil, &ArgError{Target: s.Name, Param: name, Msg: "given both by position and by keyword"}
		}
		v, err := convert(s, s.Params[i], i, a)
		if err != nil {
			return nil, err
		}
		out[i], set[i] = v, true
	}
	var missing []string
	for i, ok := range set {
		if ok {
			continue
		}
		if s.Variadic && i == fixed {
			out[i] = reflect.Zero(s.Params[i].Type)
			continue
		}
		missing = append(missing, paramLabel(s.Params[i], i))
	}
	if len(missing) > 0 {
		return nil, &ArgError{Target: s.Name, Msg: fmt.Sprintf("missing %d required argument(s): %s", len(missing), joinLines(missing))}
	}
	return out, nil
}

func paramIndex(s *registry.Spec, name string) int {
	if name == "" || name == "_" {
		return -1
	}
	for i, p := range s.Params {
		if p.Name == name {
			return i
		}
	}
	return -1
}

func paramNames(s *registry.Spec) []string {
	names := make([]string, len(s.Params))
	for i, p := range s.Params {
		names[i] = paramLabel(p, i)
	}
	return names
}

func paramLabel(p registry.Param, i int) string {
	if p.Name == "" || p.Name == "_" {
		return fmt.Sprintf("#%d", i)
	}
	return p.Name
}

// convert makes a the value of parameter p: assignable values as they are,
// nil for nilable types, and numbers converted when no information is lost
// (so an untyped constant like 3 fits an int64 or float64 parameter).
func convert(s *registry.Spec, p registry.Param, i int, a any) (reflect.Value, error) {
	if a == nil {
		switch p.Type.Kind() {
		case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
			return reflect.Zero(p.Type), nil
		}
		return reflect.Value{}, &ArgError{Target: s.Name, Param: paramLabel(p, i), Msg: fmt.Sprintf("nil cannot be used as %v", p.Type)}
	}
	v := reflect.ValueOf(a)
	if v.Type().AssignableTo(p.Type) {
		return v, nil
	}
	if isNumber(v.Kind()) && isNumber(p.Type.Kind()) && v.Type().ConvertibleTo(p.Type) {
		c := v.Convert(p.Type)
		if c.Convert(v.Type()).Equal(v) {
			return c, nil
		}
		return reflect.Value{}, &ArgError{Target: s.Name, Param: paramLabel(p, i), Msg: fmt.Sprintf("%v(%v) does not fit in %v", v.Type(), a, p.Type)}
	}
	return reflect.Value{}, &ArgError{Target: s.Name, Param: paramLabel(p, i), Msg: fmt.Sprintf("must be %v, got %v", p.Type, v.Type())}
}

func isNumber(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Complex128 && k != reflect.Uintptr
}

// encodeArgs serializes bound arguments with codec c, for a call that
// carries carrier (see Propagator).
// A handle's arguments own duplicates of its descriptors (see exportHandle);
// on error, those already made are closed.
func encodeArgs(s *registry.Spec, c Codec, vals []reflect.Value, carrier map[string]string) ([]wire.Value, error) {
	out := make([]wire.Value, len(vals))
	nfiles := 0
	for i, v := range vals {
		ev, err := encodeValue(c, v)
		if err == nil && nfiles+ev.NFiles > maxPassedFiles {
			closeFiles(ev.Files)
			err = fmt.Errorf("the call's handles would travel with more than %d descriptors", maxPassedFiles)
		}
		if err != nil {
			closeFiles(argFiles(out[:i]))
			if ev.Handle || errors.Is(err, ErrHandleClosed) {
				return nil, &ArgError{Target: s.Name, Param: paramLabel(s.Params[i], i), Msg: err.Error()}
			}
			return nil, &ArgError{Target: s.Name, Param: paramLabel(s.Params[i], i), Msg: fmt.Sprintf("cannot be encoded with the %s codec: %v", c.Name(), err)}
		}
		nfiles += ev.NFiles
		out[i] = ev
	}
	if err := callFits(s, c, out, carrier); err != nil {
		closeFiles(argFiles(out))
		return nil, err
	}
	return out, nil
}

// callFits checks that a call of s with the encoded args fits the frame
// limit the child will apply, so that nothing is spawned or sent for a call
// it would refuse. The *ArgError names the largest argument.
func callFits(s *registry.Spec, c Codec, args []wire.Value, carrier map[string]string) error {
	n, limit, over := frameOver((&wire.Call{Target: s.Name, Codec: c.Name(), Args: args, Carrier: carrier}).Size())
	if !over {
		return nil
	}
	e := &ArgError{Target: s.Name, err: ErrTooLarge}
	big := 0
	for i, a := range args {
		if a.Size() > args[big].Size() {
			big = i
		}
	}
	if len(args) > 0 {
		e.Param = paramLabel(s.Params[big], big)
		e.Msg = fmt.Sprintf("is %d bytes encoded, and ", len(args[big].Data))
	}
	e.Msg += fmt.Sprintf("the call would be a %d-byte frame, over the frame limit %d (see SetMaxFrameSize)", n, limit)
	return e
}

func encodeValue(c Codec, v reflect.Value) (wire.Value, error) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		if v.IsNil() {
			return wire.Value{}, nil
		}
	}
	if h, ok := v.Interface().(handle); ok {
		return exportHandle(h)
	}
	if isBytes(v.Type()) {
		return wire.Value{Present: true, Raw: true, Data: v.Bytes()}, nil
	}
	if fastKind(v.Type()) {
		return wire.Value{Present: true, Fast: true, Data: encodeFast(v)}, nil
	}
	data, err := c.Marshal(v.Interface())
	if err != nil {
		return wire.Value{}, err
	}
	return wire.Value{Present: true, Data: data}, nil
}

// wireArgs decodes serialized arguments for generated code in the child.
type wireArgs struct {
	codec Codec
	args  []wire.Value
}

func (w *wireArgs) Decode(i int, v any) error {
	if i < 0 || i >= len(w.args) {
		return fmt.Errorf("argument %d missing: the call carries %d", i, len(w.args))
	}
	if w.args[i].Handle {
		files := w.args[i].Files
		w.args[i].Files = nil
		if err := importHandle(w.args[i].Data, files, v); err != nil {
			return fmt.Errorf("decode argument %d: %w", i, err)
		}
		return nil
	}
	if err := decodeValue(w.codec, w.args[i], v); err != nil {
		return fmt.Errorf("decode argument %d: %w", i, err)
	}
	return nil
}

// isBytes reports whether t is a byte slice (named or not), which travels
// raw.
func isBytes(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
}

// setRaw stores raw bytes in the byte slice that ptr points to.
func setRaw(ptr any, data []byte) error {
	rv := reflect.ValueOf(ptr)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || !isBytes(rv.Elem().Type()) {
		return fmt.Errorf("raw bytes cannot be stored in %T", ptr)
	}
	rv.Elem().SetBytes(data)
	return nil
}

// localArgs hands bound values to generated code in the same process
// (Process.Run), without serializing them.
type localArgs []reflect.Value

func (l localArgs) Decode(i int, v any) error {
	if i < 0 || i >= len(l) {
		return fmt.Errorf("argument %d missing", i)
	}
	reflect.ValueOf(v).Elem().Set(l[i])
	return nil
}

// callLocal runs a spec in this process with recover left to the caller.
func callLocal(ctx context.Context, s *registry.Spec, vals []reflect.Value) (any, error) {
	return s.Call(ctx, localArgs(vals))
}

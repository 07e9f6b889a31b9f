package mp

import (
	"fmt"
	"os"
	"reflect"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
	"github.com/mpgen/mpgen/runtime/internal/wire"
)

// inlineMax is the largest encoded value a Conn or Queue message carries
// inline; a larger one is spilled into a file (a memfd on Linux, an
// unlinked temporary file on macOS, the BSDs and in the portable build:
// fdio.Spill) whose descriptor travels beside a short message, so that a
// message never outgrows the socket's buffer.
const inlineMax = 64 << 10

// A message with inlineMax bytes inline, its form byte and a margin must
// fit the buffer a Sock receives into (fdio.MaxMsg); if it did not, this
// constant would be negative and would not compile.
const _ = uint(fdio.MaxMsg - (inlineMax + 64))

// formSpilled marks a message whose value's bytes are in the attached file.
const formSpilled = 0x80

// encodeMsg encodes v as one message: its form, then its bytes, with the
// descriptors that must travel beside it (a handle's, or the spill file).
// The caller sends them and then closes them. A value whose bytes are over
// the frame limit, which the receiver applies to them (readSpill), is
// refused here, before anything is made or sent.
func encodeMsg(codec Codec, v reflect.Value) ([]byte, []*os.File, error) {
	ev, err := encodeValue(codec, v)
	if err != nil {
		return nil, nil, err
	}
	if ev.Handle {
		return append([]byte{wire.FormHandle}, ev.Data...), ev.Files, nil
	}
	if limit := maxFrameSize.Load(); int64(len(ev.Data)) > limit {
		return nil, nil, fmt.Errorf("%w: a %d-byte value, limit %d (see SetMaxFrameSize)", ErrTooLarge, len(ev.Data), limit)
	}
	if len(ev.Data) <= inlineMax {
		msg := make([]byte, 1+len(ev.Data))
		msg[0] = ev.Form()
		copy(msg[1:], ev.Data)
		return msg, nil, nil
	}
	f, err := fdio.Spill(ev.Data)
	if err != nil {
		return nil, nil, err
	}
	return []byte{formSpilled | ev.Form()}, []*os.File{f}, nil
}

// decodeMsg decodes one message received with files into ptr. It takes
// over the files.
func decodeMsg(codec Codec, msg []byte, files []*os.File, ptr any) error {
	if len(msg) == 0 {
		closeFiles(files)
		return fmt.Errorf("mp: empty message")
	}
	form, data := msg[0], msg[1:]
	if form == wire.FormHandle {
		return importHandle(data, files, ptr)
	}
	if form&formSpilled != 0 {
		if len(files) != 1 || len(data) != 0 {
			closeFiles(files)
			return fmt.Errorf("mp: malformed spilled message")
		}
		var err error
		data, err = readSpill(files[0])
		files[0].Close()
		if err != nil {
			return err
		}
		form &^= formSpilled
	} else {
		closeFiles(files)
		// The buffer is reused: a raw value must not alias it.
		if form == wire.FormRaw {
			data = append([]byte(nil), data...)
		}
	}
	var ev wire.Value
	switch form {
	case wire.FormAbsent:
		return nil
	case wire.FormCodec, wire.FormRaw, wire.FormFast:
		ev = wire.Value{Present: true, Raw: form == wire.FormRaw, Fast: form == wire.FormFast, Data: data}
	default:
		return fmt.Errorf("mp: bad message form %d", form)
	}
	return decodeValue(codec, ev, ptr)
}

// readSpill reads a spill file's bytes.
func readSpill(f *os.File) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if limit := maxFrameSize.Load(); st.Size() > limit {
		return nil, fmt.Errorf("%w: a %d-byte value, limit %d (see SetMaxFrameSize)", ErrTooLarge, st.Size(), limit)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil {
		return nil, fmt.Errorf("mp: read spilled value: %w", err)
	}
	return data, nil
}

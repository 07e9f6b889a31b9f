package mpnats

import (
	"context"
	"testing"

	_ "github.com/mpgen/mpgen/internal/targets" // targets for the calls to reach
	"github.com/mpgen/mpgen/runtime/mpimpl"
)

// A worker runs whatever bytes a publisher sends: any message either is
// refused with an error or gives an outcome message, and never panics.
func FuzzWorkerMessage(f *testing.F) {
	f.Add([]byte{protoVersion, byte(mpimpl.KindCall)})
	f.Add([]byte{protoVersion, byte(mpimpl.KindBatch), 0, 1, 2})
	f.Add([]byte{2, byte(mpimpl.KindCall)})
	f.Add([]byte{protoVersion})
	w := &worker{objects: newObjects(nil, "unused")}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := w.run(context.Background(), data, "")
		if err != nil {
			return
		}
		kind, _, derr := decode(out)
		if derr != nil {
			t.Fatalf("outcome does not decode: %v", derr)
		}
		if kind == mpimpl.KindCall || kind == mpimpl.KindBatch || kind == mpimpl.KindCancel {
			t.Fatalf("outcome of kind %d", kind)
		}
	})
}

// decode takes what encode makes, and refuses another version.
func TestEncodeDecode(t *testing.T) {
	msg := encode(mpimpl.KindBatch, [][]byte{[]byte("ab"), nil, []byte("c")})
	kind, body, err := decode(msg)
	if err != nil || kind != mpimpl.KindBatch || string(body) != "abc" {
		t.Fatalf("decode(encode) = %v, %q, %v", kind, body, err)
	}
	msg[0] = protoVersion + 1
	if _, _, err := decode(msg); err == nil {
		t.Fatal("a message of another version decoded")
	}
	if _, _, err := decode([]byte{protoVersion}); err == nil {
		t.Fatal("a one-byte message decoded")
	}
}

package mp

import (
	"bytes"
	"testing"

	"github.com/mpgen/mpgen/runtime/internal/fdio"
)

// A batch of waiting values never outgrows what the message socket
// carries itself (fdio.MaxInline), so that it never rides in a spill file
// (the portable transport's records are 4 KiB), and unpacks to the values
// it took, in order.
func TestQueueBatchFitsInline(t *testing.T) {
	for _, size := range []int{3, 300, 1000, 5000} {
		q := &Queue[[]byte]{}
		for i := range 200 {
			q.backlog = append(q.backlog, queued{msg: bytes.Repeat([]byte{byte(i)}, size)})
		}
		for len(q.backlog) > 0 {
			msg, files, n := q.nextMessage()
			if len(files) != 0 || n < 1 {
				t.Fatalf("%d-byte values: %d values, %d files", size, n, len(files))
			}
			if n == 1 {
				if !bytes.Equal(msg, q.backlog[0].msg) {
					t.Fatalf("%d-byte values: a lone value changed", size)
				}
				if size <= fdio.MaxInline/2 {
					t.Fatalf("%d-byte values went one by one", size)
				}
			} else {
				if len(msg) > fdio.MaxInline {
					t.Fatalf("%d-byte values: a batch of %d bytes, over %d", size, len(msg), fdio.MaxInline)
				}
				values, err := splitBatch(msg)
				if err != nil || len(values) != n {
					t.Fatalf("%d-byte values: %d values of %d, %v", size, len(values), n, err)
				}
				for i, v := range values {
					if !bytes.Equal(v, q.backlog[i].msg) {
						t.Fatalf("%d-byte values: value %d of a batch changed", size, i)
					}
				}
			}
			q.backlog = q.backlog[n:]
		}
	}
}

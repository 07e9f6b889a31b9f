//go:build linux

package mp

import (
	"testing"
	"time"
)

// TestQueueBacklogTravelsInBatches: once the socket is full, values wait in
// the backlog and leave in batches, which the consumer unpacks in order.
func TestQueueBacklogTravelsInBatches(t *testing.T) {
	q, err := NewQueue[int](0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	const n = 5000
	for i := range n {
		if err := q.Put(i); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	for i := range n {
		v, err := q.GetTimeout(10 * time.Second)
		if err != nil || v != i {
			t.Fatalf("value %d = %d, %v", i, v, err)
		}
		if q.hasAhead() {
			kept++
		}
	}
	if kept < n/2 {
		t.Fatalf("values were kept from a batch after only %d of %d gets: the backlog went value by value", kept, n)
	}
	if _, err := splitBatch([]byte{formBatch, 2, 1, 3}); err == nil {
		t.Fatal("a batch announcing 2 values with 1 accepted")
	}
}

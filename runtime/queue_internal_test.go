//go:build linux

package mp

import (
	"context"
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

// secondHandle imports q as another process would, within this one.
func secondHandle[T any](t *testing.T, q *Queue[T]) *Queue[T] {
	t.Helper()
	meta, files, err := q.mpExport()
	if err != nil {
		t.Fatal(err)
	}
	q2 := new(Queue[T])
	if err := q2.mpImport(meta, dupFiles(files)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q2.Close() })
	return q2
}

// TestQueueFeederDropsUncounted: values the feeder cannot send because
// another process shut the queue down stop counting as unfinished tasks,
// so Join returns once every delivered value is done.
func TestQueueFeederDropsUncounted(t *testing.T) {
	q, err := NewQueue[int](0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	q2 := secondHandle(t, q)
	for i := range 5000 { // most wait in q's backlog
		if err := q.Put(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := q2.put.ShutdownSend(); err != nil { // another process's Shutdown
		t.Fatal(err)
	}
	got := make(chan int)
	go func() {
		n := 0
		for {
			if _, err := q2.GetTimeout(300 * time.Millisecond); err != nil {
				got <- n
				return
			}
			n++
			if err := q2.TaskDone(); err != nil {
				t.Error(err)
			}
		}
	}()
	_ = q.Flush()
	n := <-got
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := q2.JoinContext(ctx); err != nil {
		t.Fatalf("Join after the %d delivered values were done: %v (unfinished %d)", n, err, q.Unfinished())
	}
}

//go:build linux || windows

package mp

import (
	"testing"
	"time"
)

// A waiter that was waiting when Set was called returns even if the event
// is cleared at once.
func TestEventSetClear(t *testing.T) {
	e, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	got := make(chan error)
	go func() { got <- e.WaitTimeout(5 * time.Second) }()
	time.Sleep(20 * time.Millisecond)
	e.Set()
	e.Clear()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestPool runs the example: the map finds the longest chain below
// 200001, the crashing call fails alone with an *mp.ExitError, and the
// pool goes on.
func TestPool(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout = w
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	os.Stderr = devnull // the progress bar
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	main()
	os.Stdout, os.Stderr = stdout, stderr
	w.Close()
	got := <-out
	for _, want := range []string{
		"starts at 156159 (382 steps)",
		"crashing call: mp: child running main.crash exited with code 3",
		"| is *mp.ExitError: true",
		"the pool goes on: collatz(27) = 111 <nil>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// TestSandbox runs the example: the benign document parses, the hostile
// one's include and fetch are refused and nothing reaches the attacker,
// and the bomb is stopped by its memory limit.
func TestSandbox(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	main()
	os.Stdout = stdout
	w.Close()
	got := <-out
	for _, want := range []string{
		"invoice    fields map[customer:ACME total:42.00]",
		"exfiltrate fields map[title:harmless]",
		"refused: open ",
		"permission denied",
		"connect: network is unreachable",
		"bomb       stopped: over its Memory limit (512 MiB)",
		"secrets that reached the attacker: 0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

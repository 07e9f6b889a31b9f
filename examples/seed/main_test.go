package main

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSeed runs the example with short "seconds": the five workers run in
// parallel (every one has started before the first ends), then both
// class-style workers run, and every process ends.
func TestSeed(t *testing.T) {
	unit = unitForTests
	t.Setenv("SEED_UNIT", unitForTests.String()) // for the children
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stdout := os.Stdout
	os.Stdout = w // the children inherit it too
	main()
	os.Stdout = stdout
	w.Close()
	var lines []string
	for s := bufio.NewScanner(r); s.Scan(); {
		lines = append(lines, strings.TrimSpace(s.Text()))
	}
	started, firstEnd := 0, -1
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "work_") && strings.HasSuffix(l, " is starting"):
			if firstEnd < 0 {
				started++
			}
		case strings.HasPrefix(l, "work_") && strings.HasSuffix(l, " is ending") && firstEnd < 0:
			firstEnd = i
		}
	}
	if started != 5 {
		t.Errorf("%d workers had started when the first ended, want all 5 (in parallel):\n%s", started, strings.Join(lines, "\n"))
	}
	for _, want := range []string{"work_4 is ending", "worker_a is ending", "worker_b is ending", "main: Process-7 exited with code 0", "main is ending"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("no line %q in:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}

// unitForTests is long enough for five children to start (under Wine,
// too) before the shortest sleep, one unit, ends.
const unitForTests = 300 * time.Millisecond

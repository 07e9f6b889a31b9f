//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDemo builds the demo and runs it as a user does on one machine,
// with two workers and both delivery modes: it exits 0 with nothing on
// stderr, both workers ran items in each mode and the answer is right,
// and neither a worker process nor the server's directory is left
// behind.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the demo")
	}
	exe := filepath.Join(t.TempDir(), "cluster")
	if out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tmp := t.TempDir() // the demo's TMPDIR, where its server stores
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const numbers, chunk = 200_000, 5_000
	cmd := exec.CommandContext(ctx, exe, "-workers", "2", "-map", strconv.Itoa(numbers), "-chunk", strconv.Itoa(chunk), "-durable", "-slots", "1")
	cmd.Env = append(environ("NATS_URL", "MP_ROLE"), "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	t.Logf("demo output:\n%s", stdout)
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("demo: %v, stderr:\n%s", err, stderr.Bytes())
	}

	workers := regexp.MustCompile(`(?m)^worker (\S+:(\d+)) serving app cluster `).FindAllStringSubmatch(string(stdout), -1)
	if len(workers) != 2 || workers[0][1] == workers[1][1] {
		t.Fatalf("want 2 workers serving, got %q", workers)
	}
	want := collatz(Range{1, numbers + 1})
	items := numbers / chunk
	for _, mode := range []string{"direct", "durable"} {
		section := regexp.MustCompile(`(?m)^` + mode + `: (\d+) items .*\n((?:  .*\n)*)`).FindStringSubmatch(string(stdout))
		if section == nil {
			t.Fatalf("%s: no section in the output", mode)
		}
		if section[1] != strconv.Itoa(items) {
			t.Errorf("%s: %s items, want %d", mode, section[1], items)
		}
		ran := map[string]int{}
		for _, m := range regexp.MustCompile(`(?m)^  (\S+) ran (\d+) items$`).FindAllStringSubmatch(section[2], -1) {
			ran[m[1]], _ = strconv.Atoi(m[2])
		}
		total := 0
		for _, w := range workers {
			if ran[w[1]] == 0 {
				t.Errorf("%s: worker %s ran no item (ran: %v)", mode, w[1], ran)
			}
			total += ran[w[1]]
		}
		if total != items || len(ran) != 2 {
			t.Errorf("%s: the two workers ran %v, want %d items between them", mode, ran, items)
		}
		line := "  longest Collatz chain up to " + strconv.Itoa(numbers) + " starts at " + strconv.Itoa(want.Start) + " (" + strconv.Itoa(want.Steps) + " steps)\n"
		if !strings.Contains(section[2], line) {
			t.Errorf("%s: want %q in\n%s", mode, line, section[2])
		}
	}
	if !strings.HasSuffix(string(stdout), "stopped 2 workers\n") {
		t.Errorf("the demo did not say it stopped its 2 workers")
	}

	// The demo has waited for its workers: they are gone, not even zombies.
	for _, w := range workers {
		pid, _ := strconv.Atoi(w[2])
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("worker %s is still there after the demo (kill 0: %v)", w[1], err)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("the demo left %v in its TMPDIR", left)
	}
}

// environ is this process's environment without the variables named.
func environ(without ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(without, k) {
			env = append(env, kv)
		}
	}
	return env
}

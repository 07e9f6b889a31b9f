package shm

import (
	"os"
	"testing"
)

// parseStat finds the state and the start time after a command name that
// holds spaces and parentheses, and refuses what is not a stat line.
func TestParseStat(t *testing.T) {
	line := "123 (a) b (c) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242 19 20\n"
	state, start, err := parseStat([]byte(line))
	if err != nil || state != 'R' || start != 424242 {
		t.Fatalf("parseStat = %c %d %v", state, start, err)
	}
	for _, bad := range []string{"", "123 (x", "1 (x) R 1 2", "1 (x) RR 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 9 0", "1 (x) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -9 0"} {
		if _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) succeeded", bad)
		}
	}
}

// FuzzParseStat: any bytes give a result or an error, never a panic.
func FuzzParseStat(f *testing.F) {
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("1 ()) R 1"))
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = parseStat(b) })
}

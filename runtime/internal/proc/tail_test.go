package proc

import (
	"fmt"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
		crash  string
	}{
		{"empty", nil, "", ""},
		{"few lines", []string{"a\nb\n", "c"}, "a\nb\nc", ""},
		{"last 16 lines", []string{lines(1, 20)}, lines(5, 20), ""},
		{"line split across writes", []string{"fatal err", "or: boom\nmore\n"}, "fatal error: boom\nmore", "fatal error: boom"},
		{"crash line scrolled out", []string{"panic: bad\n", lines(1, 30)}, "panic: bad\n[...]\n" + lines(15, 30), "panic: bad"},
		{"ring wraps, cut line dropped", []string{strings.Repeat("x", 5000) + "\nend\n"}, "end", ""},
		{"bytes bound", []string{strings.Repeat(strings.Repeat("y", 999)+"\n", 10)}, strings.TrimSuffix(strings.Repeat(strings.Repeat("y", 999)+"\n", 4), "\n"), ""},
		{"unterminated crash line", []string{"x\nfatal error: at the end"}, "x\nfatal error: at the end", "fatal error: at the end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tl tail
			for _, w := range tc.writes {
				tl.Write([]byte(w))
			}
			if got := tl.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			if got := tl.Crash(); got != tc.crash {
				t.Errorf("Crash() = %q, want %q", got, tc.crash)
			}
			if len(tl.String()) > TailBytes+crashLineMax+7 {
				t.Errorf("String() is %d bytes", len(tl.String()))
			}
		})
	}
}

// lines returns "l<from>\n...l<to>" without the final newline.
func lines(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "l%d\n", i)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func TestCrashLines(t *testing.T) {
	for line, want := range map[string]bool{
		"fatal error: runtime: out of memory": true,
		"panic: boom":                         true,
		"runtime/cgo: pthread_create failed: Resource temporarily unavailable": true,
		"==8484==ERROR: ThreadSanitizer failed to allocate 0x1ff000 bytes":     true,
		"SIGSEGV: segmentation violation":                                      true,
		"SIGABRT: abort":                                                       true,
		"SIGHUP handler: installed":                                            false,
		"Sig: no":                                                              false,
		"a log line: SIGSEGV: quoted":                                          false,
	} {
		if got := isCrashLine([]byte(line)); got != want {
			t.Errorf("isCrashLine(%q) = %v, want %v", line, got, want)
		}
	}
}

//go:build !mpgen_portable

package proc

import (
	"os"
	"runtime"
	"testing"
)

func TestRSS(t *testing.T) {
	ballast := make([]byte, 64<<20)
	for i := 0; i < len(ballast); i += 4096 {
		ballast[i] = 1
	}
	rss, ok := RSS(os.Getpid())
	if !ok || rss < int64(len(ballast)) {
		t.Fatalf("RSS of this process with %d bytes touched: %d, %v", len(ballast), rss, ok)
	}
	runtime.KeepAlive(ballast)
	if _, ok := RSS(-1); ok {
		t.Fatal("RSS of no process reports a size")
	}
}

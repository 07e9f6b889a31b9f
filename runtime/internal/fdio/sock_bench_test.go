//go:build unix

package fdio

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// BenchmarkSockRoundTrip sends a message of each size to a goroutine that
// echoes it on the other end of a pair, and waits for the echo: the
// transport's own cost, in one process. On the portable build a message
// over MaxInline rides in a spill file.
func BenchmarkSockRoundTrip(b *testing.B) {
	sizes := []int{16, 1 << 10, MaxInline, 8 << 10, 32 << 10, MaxMsg}
	slices.Sort(sizes)
	for _, size := range slices.Compact(sizes) { // MaxInline is MaxMsg on SOCK_SEQPACKET
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			a, c := pair(b)
			ctx := context.Background()
			go func() {
				for {
					buf, n, _, err := c.Recv(ctx)
					if err != nil {
						return
					}
					err = c.Send(ctx, (*buf)[:n], nil)
					PutBuf(buf)
					if err != nil {
						return
					}
				}
			}()
			msg := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := a.Send(ctx, msg, nil); err != nil {
					b.Fatal(err)
				}
				buf, n, _, err := a.Recv(ctx)
				if err != nil || n != size {
					b.Fatalf("%d bytes back, %v", n, err)
				}
				PutBuf(buf)
			}
		})
	}
}

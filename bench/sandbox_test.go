//go:build linux

package bench

import (
	"testing"
	"time"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// BenchmarkSandboxStartJoin is the cost of a sandbox: each iteration
// starts and joins one Noop child without a sandbox and one with it, in
// alternating order (pairedLoop), so both see the same machine. It reports
// both medians and their ratio. Each case adds a restriction to the one
// before it, so the step between two cases is that restriction's cost:
//
//   - landlock+seccomp: the sandbox's fixed part (no capabilities,
//     no_new_privs, a Landlock domain with no path, the system call filter)
//     and the re-execution that applies it to every thread;
//   - limits: memory, CPU time, descriptors and file size (setrlimit);
//   - tcp-ports: Landlock's TCP rules and the filter's socket rules;
//   - no-network: a network namespace of the child's own, made at the
//     fork and torn down after it.
func BenchmarkSandboxStartJoin(b *testing.B) {
	needSpawn(b)
	all := mp.Network{All: true}
	limits := func(sb mp.Sandbox) *mp.Sandbox {
		sb.Memory, sb.CPUTime, sb.OpenFiles, sb.FileSize = 1<<30, time.Minute, 1024, 1<<30
		return &sb
	}
	for _, c := range []struct {
		name string
		sb   *mp.Sandbox
	}{
		{"landlock+seccomp", &mp.Sandbox{Network: all, ReadOnly: []string{"/usr"}}},
		{"limits", limits(mp.Sandbox{Network: all, ReadOnly: []string{"/usr"}})},
		{"tcp-ports", limits(mp.Sandbox{Network: mp.Network{ConnectTCP: []uint16{443}}, ReadOnly: []string{"/usr"}})},
		{"no-network", limits(mp.Sandbox{ReadOnly: []string{"/usr"}})},
	} {
		b.Run(c.name, func(b *testing.B) {
			run := func(sb *mp.Sandbox) time.Duration {
				t0 := time.Now()
				p := &mp.Process{Target: targets.Noop, Sandbox: sb}
				if err := p.Start(); err != nil {
					b.Fatalf("Start: %v", err)
				}
				if err := p.Join(); err != nil {
					b.Fatalf("Join: %v", err)
				}
				return time.Since(t0)
			}
			pairedLoop(b, "ms",
				func(int) time.Duration { return run(nil) },
				func(int) time.Duration { return run(c.sb) })
		})
	}
}

//go:build !linux && (unix || windows)

package mp_test

import (
	"context"
	"errors"
	"testing"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// Off Linux a sandbox fails closed: Start and NewPool refuse it with an
// error that matches errors.ErrUnsupported, and nothing runs.
func TestSandboxUnsupported(t *testing.T) {
	p := &mp.Process{Target: targets.Noop, Sandbox: &mp.Sandbox{BestEffort: true}}
	err := p.Start()
	var se *mp.SandboxError
	if !errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &se) {
		t.Fatalf("Start with a Sandbox: got %v, want a *SandboxError matching errors.ErrUnsupported", err)
	}
	if p.Pid() != 0 {
		t.Fatalf("a child started: pid %d", p.Pid())
	}
	if _, err := mp.NewPool(context.Background(), mp.Workers(1), mp.PoolSandbox(&mp.Sandbox{})); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("NewPool with PoolSandbox: got %v, want errors.ErrUnsupported", err)
	}
}

package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// The tests below run each kind of child the benchmarks start once, so that
// `go test ./bench/` catches a benchmark that measures the wrong thing (a
// floor child that runs the tests instead of exiting, a target that fails)
// in a few milliseconds.

func TestFloorChildExits(t *testing.T) {
	needSpawn(t)
	cmd, err := floorCmd(floorExit)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("floor child: %v; output:\n%s", err, out.Bytes())
	}
	if out.Len() != 0 {
		t.Fatalf("floor child wrote %q: it should exit before the tests run", out.Bytes())
	}
}

func TestFloorChildAnswers(t *testing.T) {
	needSpawn(t)
	for _, payload := range [][]byte{
		bytes.Repeat([]byte{0x5a}, 256),
		bytes.Repeat([]byte{0xa5}, floorEchoMax+1),
	} {
		want := floorWant(payload)
		got, err := floorExchange(payload, len(want))
		if err != nil {
			t.Fatalf("%d-byte payload: %v", len(payload), err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d-byte payload: answer %x, want %x", len(payload), got[:min(16, len(got))], want[:min(16, len(want))])
		}
	}
}

func TestTargetsAnswer(t *testing.T) {
	needSpawn(t)
	arg := strings.Repeat("x", smallSize)
	for _, tc := range []struct {
		name string
		p    *mp.Process
		want any
	}{
		{"noop", &mp.Process{Target: targets.Noop}, nil},
		{"echo", &mp.Process{Target: targets.Echo, Args: []any{arg}}, arg},
		{"bytelen", &mp.Process{Target: targets.ByteLen, Args: []any{make([]byte, 12345)}}, 12345},
	} {
		if err := tc.p.Start(); err != nil {
			t.Fatalf("%s: Start: %v", tc.name, err)
		}
		if err := tc.p.Join(); err != nil {
			t.Fatalf("%s: Join: %v", tc.name, err)
		}
		if got, _ := tc.p.Result(); got != tc.want {
			t.Fatalf("%s: result %v, want %v", tc.name, got, tc.want)
		}
	}
}

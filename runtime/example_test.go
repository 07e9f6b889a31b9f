package mp_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/mpgen/mpgen/internal/targets"
	mp "github.com/mpgen/mpgen/runtime"
)

// Start a target in a child process, Python style, and read its result.
// targets.Echo is `//mp:target func Echo(s string) string`.
func Example() {
	p := &mp.Process{Target: targets.Echo, Kwargs: map[string]any{"s": "hello from a child"}}
	if err := p.Start(); err != nil {
		fmt.Println(err)
		return
	}
	err := p.Join()
	res, _ := p.Result()
	code, _ := p.ExitCode()
	fmt.Println(res, err, code)
	// Output: hello from a child <nil> 0
}

// The typed form: Spawn checks the result type against the target's before
// it starts the child, and Get returns it typed. targets.Square is
// `//mp:target func Square(ctx context.Context, x int) (int, error)`.
func ExampleSpawn() {
	ctx := context.Background()
	f, err := mp.Spawn[int](ctx, targets.Square, 12)
	if err != nil {
		fmt.Println(err)
		return
	}
	n, err := f.Get()
	fmt.Println(n, err)
	// Output: 144 <nil>
}

// A returned error keeps its identity across the process boundary.
func ExampleRemoteError() {
	p := &mp.Process{Target: targets.Fail, Args: []any{"on purpose"}}
	_ = p.Start()
	err := p.Join()
	var re *mp.RemoteError
	fmt.Println(errors.As(err, &re), errors.Is(err, targets.ErrBoom))
	fmt.Println(err)
	code, _ := p.ExitCode()
	fmt.Println("exit code", code)
	// Output:
	// true true
	// fail on purpose: boom
	// exit code 1
}

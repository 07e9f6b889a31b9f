package targets

import (
	"context"
	"fmt"
	"os"
)

// CarriedKey is the context key of the value that the runtime's tests
// carry from a call's context into its target's, with a Propagator their
// test binary sets.
type CarriedKey struct{}

// Carry is what Carried found in its context, and where.
type Carry struct {
	Value string
	Pid   int
}

// Carried returns the value under CarriedKey in its context ("" when there
// is none) and the pid of the process it runs in.
//
//mp:target
func Carried(ctx context.Context) (Carry, error) {
	v, _ := ctx.Value(CarriedKey{}).(string)
	return Carry{Value: v, Pid: os.Getpid()}, nil
}

// CarriedItem is Carried for Map: "x=value".
//
//mp:target
func CarriedItem(ctx context.Context, x int) (string, error) {
	v, _ := ctx.Value(CarriedKey{}).(string)
	return fmt.Sprintf("%d=%s", x, v), nil
}

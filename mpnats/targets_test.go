package mpnats_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/mpgen/mpgen/runtime/mpimpl"
)

// The test's own targets, registered by hand as generated code would: the
// test binary is both the caller and, re-executed, the worker processes.

// record appends this process's pid to the file path, then sleeps for d
// (or until ctx ends) and returns the pid: a test counts a target's runs
// and sees who ran it.
func record(ctx context.Context, path string, d time.Duration) (int, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	fmt.Fprintln(f, os.Getpid())
	f.Close()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return os.Getpid(), nil
}

// sleepWho sleeps for d, ignoring any context, and returns its pid.
func sleepWho(d time.Duration) int {
	time.Sleep(d)
	return os.Getpid()
}

// ended receives when each call of watched ended, in this process.
var ended = make(chan time.Time, 16)

// watched waits for d or until ctx ends, and says when on ended.
func watched(ctx context.Context, d time.Duration) error {
	defer func() { ended <- time.Now() }()
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// versioned has a parameter of another type in a worker started with
// variantEnv: the build whose code changed.
func versioned(x int) int { return x }

func versionedV2(x string) int { return len(x) }

const variantEnv = "MPNATS_TEST_VARIANT"

func init() {
	mpimpl.Register(mpimpl.Spec{
		Name:    "mpnats_test.record",
		Func:    record,
		Context: true,
		Params:  []mpimpl.Param{mpimpl.P[string]("path"), mpimpl.P[time.Duration]("d")},
		Result:  reflect.TypeFor[int](),
		Call: func(ctx context.Context, args mpimpl.Args) (any, error) {
			var path string
			var d time.Duration
			if err := args.Decode(0, &path); err != nil {
				return nil, err
			}
			if err := args.Decode(1, &d); err != nil {
				return nil, err
			}
			return record(ctx, path, d)
		},
	})
	mpimpl.Register(mpimpl.Spec{
		Name:   "mpnats_test.sleepWho",
		Func:   sleepWho,
		Params: []mpimpl.Param{mpimpl.P[time.Duration]("d")},
		Result: reflect.TypeFor[int](),
		Batch: mpimpl.One(func(_ context.Context, d time.Duration) (int, error) {
			return sleepWho(d), nil
		}),
	})
	mpimpl.Register(mpimpl.Spec{
		Name:    "mpnats_test.watched",
		Func:    watched,
		Context: true,
		Params:  []mpimpl.Param{mpimpl.P[time.Duration]("d")},
		Batch: mpimpl.One(func(ctx context.Context, d time.Duration) (struct{}, error) {
			return struct{}{}, watched(ctx, d)
		}),
	})
	if os.Getenv(variantEnv) == "" {
		mpimpl.Register(mpimpl.Spec{
			Name:   "mpnats_test.versioned",
			Func:   versioned,
			Params: []mpimpl.Param{mpimpl.P[int]("x")},
			Result: reflect.TypeFor[int](),
			Batch: mpimpl.One(func(_ context.Context, x int) (int, error) {
				return versioned(x), nil
			}),
		})
	} else {
		mpimpl.Register(mpimpl.Spec{
			Name:   "mpnats_test.versioned",
			Func:   versionedV2,
			Params: []mpimpl.Param{mpimpl.P[string]("x")},
			Result: reflect.TypeFor[int](),
			Batch: mpimpl.One(func(_ context.Context, x string) (int, error) {
				return versionedV2(x), nil
			}),
		})
	}
}

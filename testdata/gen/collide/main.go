// Command collide declares package-level names that the generated file
// would use: its imports and locals must pick other names.
package main

import (
	stdcontext "context"
	clock "time"
)

func main() {}

// Package-level names that shadow what the generated code would declare.
var (
	time, mpruntime     = 1, 2
	ctx, args, err, a0  = 3, 4, 5, 6
	v, r                = 7, 8
	context             = "not the package"
	_                   = []any{time, mpruntime, ctx, args, err, a0, v, r, context}
	_, _                = stdcontext.Background, clock.Now
	lateName, lateName1 = 9, 10
)

//mp:target
func work(c stdcontext.Context, d clock.Duration, when clock.Time) (int, error) { return 0, nil }

//mp:target
type Job struct{ At clock.Time }

func (j Job) Run() clock.Duration { return 0 }

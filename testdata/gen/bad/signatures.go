package main

import (
	"context"
	"unsafe"
)

//mp:target
func generic[T any](v T) {}

//mp:target
type Generic[T any] struct{ V T }

func (g Generic[T]) Run() {}

//mp:target
func channel(ch chan int) {}

//mp:target
func callback(f func() error) {}

//mp:target
func pointers(p unsafe.Pointer, addr uintptr) {}

//mp:target
func dynamic(v any, err error, s interface{ String() string }) {}

//mp:target
func lateContext(n int, ctx context.Context) {}

//mp:target
func nested(m map[string]chan int, cfg Config, list []Hidden, e Empty) {}

//mp:target
func twoValues() (int, int) { return 0, 0 }

//mp:target
func threeResults() (int, string, error) { return 0, "", nil }

//mp:target
func badResult() chan int { return nil }

//mp:target
func badResultWithError() (func(), error) { return nil, nil }

// Config has a field whose type cannot travel, deeper down.
type Config struct {
	Name  string
	Inner Inner
}

type Inner struct {
	Done chan struct{}
}

// Hidden has an unexported field, which gob would drop without a word.
type Hidden struct {
	Name   string
	secret string
}

// Empty has no exported fields at all.
type Empty struct{ n int }

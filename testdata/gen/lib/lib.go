// Package lib is a library package with targets: its target names start
// with its import path, it registers its error values, and gets no guard.
package lib

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

//mp:target
func Resize(ctx context.Context, path string, width int) error { return nil }

//mp:target lib.stat
func stat(name string) (fs.FileMode, error) { return 0, ErrNotFound }

// Sentinel errors: registered, so errors.Is works across processes.
var (
	ErrNotFound = errors.New("not found")
	ErrTooBig   = &SizeError{Limit: 10}
	ErrExpired  error
	errPrivate  = errors.New("unexported: not registered")
	Count       = 3 // not an error
)

// SizeError implements error on its pointer: registered as *SizeError.
type SizeError struct{ Limit int }

func (e *SizeError) Error() string { return fmt.Sprintf("size over %d", e.Limit) }

// CodeError implements error on its value: registered as CodeError.
type CodeError struct {
	Code int
	Msg  string
}

func (e CodeError) Error() string { return e.Msg }

// PathError cannot travel (unexported field): silently not registered.
type PathError struct{ path string }

func (e PathError) Error() string { return e.path }

// ListError is generic: not registered.
type ListError[T any] struct{ Items []T }

func (e ListError[T]) Error() string { return "list" }

// Failure is an interface: not registered.
type Failure interface {
	error
	Temporary() bool
}

type quietError struct{ Msg string }

func (e quietError) Error() string { return e.Msg }

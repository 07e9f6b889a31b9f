// Command types has type targets: value and pointer receivers, every shape
// of Run.
package main

import (
	"context"
	"time"
)

func main() {}

// Greeter runs with a value receiver and a context.
//
//mp:target
type Greeter struct{ Name string }

func (g Greeter) Run(ctx context.Context) error { return nil }

// Counter runs with a pointer receiver and returns a value.
//
//mp:target counter
type Counter struct {
	N    int
	Step int
}

func (c *Counter) Run() int { c.N += c.Step; return c.N }

//mp:target
type Fetch struct {
	URL     string
	Timeout time.Duration
}

func (f *Fetch) Run(ctx context.Context) ([]byte, error) { return nil, nil }

// Ticks is not a struct: any named type whose values travel will do.
//
//mp:target
type Ticks int

func (t Ticks) Run() {}

// Loud gets its Run method from the embedded Greeter.
//
//mp:target
type Loud struct {
	Greeter
	Volume int
}

// Group type declarations work as well.
type (
	// Span is a time interval.
	//
	//mp:target
	Span struct{ From, To time.Time }
)

func (s Span) Run() (time.Duration, error) { return s.To.Sub(s.From), nil }

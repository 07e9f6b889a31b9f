// Command funcs has function targets of every supported shape.
package main

import (
	"context"
	"errors"
	"time"

	mp "github.com/mpgen/mpgen/runtime"
	"github.com/mpgen/mpgen/testdata/gen/fixture/geo"
	oddname "github.com/mpgen/mpgen/testdata/gen/fixture/odd-name"
)

func main() {}

//mp:target
func noop() {}

//mp:target
func fail() error { return errors.New("failed") }

//mp:target
func answer() int { return 42 }

// lookup has a doc comment besides the directive.
//
//mp:target
func lookup(key string) (geo.Point, error) { return geo.Point{}, nil }

//mp:target
func tick(ctx context.Context) error { return ctx.Err() }

//mp:target
func wait(ctx context.Context, d time.Duration, at time.Time) {}

//mp:target sum
func sum(xs ...int) int { return len(xs) }

//mp:target logs/write-v2
func logf(ctx context.Context, format string, args ...geo.Unit) error { return nil }

//mp:target
func shapes(p *geo.Point, boxes map[string]geo.Box[geo.Point], grid [3][]complex128, raw []byte, l oddname.Label, opt struct {
	N int `json:"n"`
}) (map[geo.Unit]bool, error) {
	return nil, nil
}

//mp:target
func local(c Config, _ int, temp Celsius, r rune) *Config { return &c }

// Config is recursive through a pointer, which encoding/gob handles.
type Config struct {
	Name  string
	Every time.Duration
	Tags  []string
	Next  *Config
	_     int
}

// Celsius is an alias.
type Celsius = float64

// Unnamed params are allowed as well.
//
//mp:target
func unnamed(string, int) {}

// handles takes runtime handles, which travel as descriptors; a queue may
// carry pipe ends.
//
//mp:target
func handles(c *mp.Conn[geo.Point], q *mp.Queue[*mp.Conn[string]]) error { return nil }

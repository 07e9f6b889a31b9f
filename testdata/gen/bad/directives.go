// Command bad shows every problem mpgen reports, all in one run.
package main

// Misspelled or malformed directives.

//mp:target two words
func junk() {}

//mp:target a,b
func badName() {}

// mp:target
func spaced() {}

//mp:targets
func plural() {}

//mp:taget
func typo() {}

//mp:generate
func otherDirective() {}

// Directives in the wrong place.

//mp:target

func detached() {}

func inBody() {
	//mp:target
	_ = 0
}

type T struct{}

//mp:target
func (T) Method() {}

//mp:target
var notAFunc = 1

//mp:target
type Alias = T

//mp:target
type (
	GroupA struct{ A int }
	GroupB struct{ B int }
)

//mp:target
//mp:target again
func twice() {}

//mp:target
func main() {}

//mp:target
func init() {}

// Duplicate names.

//mp:target same
func first() {}

//mp:target same
func second() {}

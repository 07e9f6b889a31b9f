package wire

import "reflect"

// helloEqual compares hellos, taking an empty ident for a nil one.
func helloEqual(a, b *Hello) bool {
	x, y := *a, *b
	if len(x.Ident) == 0 {
		x.Ident = nil
	}
	if len(y.Ident) == 0 {
		y.Ident = nil
	}
	return reflect.DeepEqual(x, y)
}

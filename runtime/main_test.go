package mp_test

import (
	"os"
	"testing"

	mp "github.com/mpgen/mpgen/runtime"
)

// TestMain installs the main guard: in a child started by a test, the guard
// runs the target and exits before any test runs.
func TestMain(m *testing.M) {
	mp.Guard()
	os.Exit(m.Run())
}

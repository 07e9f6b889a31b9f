//go:build !unix || (linux && !mpgen_portable)

package mp_test

import "testing"

// skipOnPortable skips a test of what only Linux's own build offers in
// the portable build; this is not it.
func skipOnPortable(t *testing.T, why string) {}

//go:build unix && (!linux || mpgen_portable)

package mp_test

import "testing"

// skipOnPortable skips a test of what only Linux's own build offers, in
// the portable build: macOS and the BSDs, and Linux with the build tag
// mpgen_portable, which runs their code.
func skipOnPortable(t *testing.T, why string) {
	t.Helper()
	t.Skip("not in the portable build (macOS, the BSDs, tag mpgen_portable): " + why)
}

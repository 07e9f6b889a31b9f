package mp

import "github.com/mpgen/mpgen/runtime/internal/sandbox"

// PlayLandlockABI makes Start and NewPool see a kernel with Landlock ABI
// abi until restore is called.
func PlayLandlockABI(abi int) (restore func()) { return sandbox.PlayLandlockABI(abi) }

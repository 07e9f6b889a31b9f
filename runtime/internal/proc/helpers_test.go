//go:build unix

package proc

// childEnv names the variable that makes this test binary a child of
// TestSpawn (see TestMain): proc's own mechanics need a child that runs
// the program's own binary.
const childEnv = "PROC_TEST_CHILD"

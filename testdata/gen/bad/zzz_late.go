package main

// This init would run after the guard in zz_mpgen.go.
func init() {}

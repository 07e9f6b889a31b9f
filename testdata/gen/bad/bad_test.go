package main

import "testing"

//mp:target
func helper() {}

// mp:target
func spacedInTest() {}

func TestNothing(t *testing.T) {}

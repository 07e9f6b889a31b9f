package main

import mp "github.com/mpgen/mpgen/runtime"

//mp:target
func byValue(c mp.Conn[int]) {}

//mp:target
func inSlice(cs []*mp.Conn[int]) {}

//mp:target
func returned() *mp.Queue[int] { return nil }

//mp:target
func badElem(q *mp.Queue[chan int]) {}

//mp:target
type Holder struct{ Q *mp.Queue[int] }

func (Holder) Run() {}

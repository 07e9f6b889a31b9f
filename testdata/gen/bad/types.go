package main

import "context"

//mp:target
type NoRun struct{ N int }

//mp:target
type BadParams struct{ N int }

func (b BadParams) Run(ctx context.Context, n int) {}

//mp:target
type BadResults struct{ N int }

func (b *BadResults) Run() (int, bool) { return 0, false }

//mp:target
type Stateless struct{}

func (Stateless) Run() {}

//mp:target
type Leaky struct {
	Out chan string
}

func (Leaky) Run() {}

//mp:target
type Service interface{ Run() }

//mp:target
type RunField struct{ Run func() }

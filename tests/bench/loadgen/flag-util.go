package main

import "sync/atomic"

// atomicFlag is a one-way stop signal shared by the workers of a closed loop.
type atomicFlag struct{ v atomic.Bool }

func (f *atomicFlag) get() bool { return f.v.Load() }
func (f *atomicFlag) set()      { f.v.Store(true) }

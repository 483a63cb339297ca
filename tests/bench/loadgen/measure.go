package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Result is one measured row, as printed for the driver (tests/bench/pg-bench.ts).
type Result struct {
	Ops     int64   `json:"ops"`
	Seconds float64 `json:"seconds"`
	// Latency percentiles of the measured operations, in microseconds.
	P50Us float64 `json:"p50Us"`
	P99Us float64 `json:"p99Us"`
	// CPU (user + system) of the server's processes during the measured window.
	ServerCPUUs float64 `json:"serverCpuUs"`
	// CPU of the load generator (this process, or pgbench) during the run.
	ClientCPUUs float64 `json:"clientCpuUs"`
	// For a mixed row ("READ+WRITE"): the writer's calls over the same window; Ops and
	// the percentiles above are then the reads', the CPU both kinds'.
	Writes *Side `json:"writes,omitempty"`
}

// Side is the calls of one kind in a mixed row.
type Side struct {
	Ops     int64   `json:"ops"`
	Seconds float64 `json:"seconds"`
	P50Us   float64 `json:"p50Us"`
	P99Us   float64 `json:"p99Us"`
}

// loopResult is what closedLoop returned.
type loopResult struct {
	n       int64
	lat     []float64
	elapsed time.Duration
}

func (r loopResult) side() *Side {
	return &Side{Ops: r.n, Seconds: r.elapsed.Seconds(), P50Us: percentile(r.lat, 0.5), P99Us: percentile(r.lat, 0.99)}
}

func runLoop(clients int, d time.Duration, op func(worker int) error) (loopResult, error) {
	n, lat, elapsed, err := closedLoop(clients, d, op)
	return loopResult{n, lat, elapsed}, err
}

// concurrentLoops runs two closed loops over the same window: `readers` workers calling
// read and `writers` calling write (each numbered from 0), and returns both.
func concurrentLoops(readers int, read func(int) error, writers int, write func(int) error, d time.Duration) (loopResult, loopResult, error) {
	var w loopResult
	var werr error
	done := make(chan struct{})
	go func() {
		w, werr = runLoop(writers, d, write)
		close(done)
	}()
	r, rerr := runLoop(readers, d, read)
	<-done
	if rerr != nil {
		return r, w, rerr
	}
	if werr != nil {
		return r, w, fmt.Errorf("writer: %w", werr)
	}
	return r, w, nil
}

// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat. Linux fixes it at
// 100 for user space on every architecture this runs on.
const clockTicks = 100

// procTimes reads utime, stime, cutime and cstime of pid, in clock ticks, and its ppid.
func procTimes(pid int) (self, children int64, ppid int, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: split after it.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 15 {
		return 0, 0, 0, fmt.Errorf("/proc/%d/stat has %d fields after the name", pid, len(fields))
	}
	num := func(i int) int64 {
		n, _ := strconv.ParseInt(fields[i], 10, 64)
		return n
	}
	// fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
	return num(11) + num(12), num(13) + num(14), int(num(1)), nil
}

// serverCPU is the CPU a server has used so far, in microseconds.
//
// With tree set (PostgreSQL), it is the postmaster's own time, plus the time of its
// children that exited and were reaped (cutime, cstime), plus the time of its live
// children. A backend that exits between two samples moves from the third term to the
// second with its whole lifetime, so a delta of two samples counts it exactly once.
func serverCPU(pid int, tree bool) (float64, error) {
	self, children, _, err := procTimes(pid)
	if err != nil {
		return 0, err
	}
	total := self
	if tree {
		total += children
		entries, err := filepath.Glob("/proc/[0-9]*")
		if err != nil {
			return 0, err
		}
		for _, dir := range entries {
			child, err := strconv.Atoi(filepath.Base(dir))
			if err != nil || child == pid {
				continue
			}
			childSelf, _, ppid, err := procTimes(child)
			if err != nil || ppid != pid {
				continue // exited meanwhile, or not a child
			}
			total += childSelf
		}
	}
	return float64(total) * 1e6 / clockTicks, nil
}

// selfCPU is the CPU this process has used so far, in microseconds.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e3
}

// percentile of sorted latencies (microseconds), nearest rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)) * p)
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// closedLoop runs `clients` workers, each calling op back to back for d, and returns
// how many calls completed, their sorted latencies in microseconds, and the elapsed
// time. The first error stops every worker and is returned.
func closedLoop(clients int, d time.Duration, op func(worker int) error) (int64, []float64, time.Duration, error) {
	start := time.Now()
	end := start.Add(d)
	type out struct {
		lat []float64
		err error
	}
	done := make(chan out, clients)
	var failed atomicFlag
	for w := range clients {
		go func() {
			lat := make([]float64, 0, 4096)
			for !failed.get() {
				t := time.Now()
				if !t.Before(end) {
					break
				}
				if err := op(w); err != nil {
					failed.set()
					done <- out{lat, err}
					return
				}
				lat = append(lat, float64(time.Since(t).Nanoseconds())/1e3)
			}
			done <- out{lat, nil}
		}()
	}
	var all []float64
	var firstErr error
	for range clients {
		o := <-done
		all = append(all, o.lat...)
		if o.err != nil && firstErr == nil {
			firstErr = o.err
		}
	}
	elapsed := time.Since(start)
	slices.Sort(all)
	return int64(len(all)), all, elapsed, firstErr
}

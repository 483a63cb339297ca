package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

var processedRe = regexp.MustCompile(`number of transactions actually processed: (\d+)`)

// pgbenchCommand runs one PostgreSQL row: a warm-up run of pgbench, then the measured
// one with a sampled per-transaction log (for the percentiles), CPU sampled around it.
// With --writer-script, a second pgbench runs that script with --writer-clients clients
// over the same window (warm-up included), as the mixed rows' writer: the result's ops
// and percentiles are then the first pgbench's, `writes` the second's, the CPU both.
func pgbenchCommand(args []string) error {
	fs := flag.NewFlagSet("pgbench", flag.ExitOnError)
	pgbin := fs.String("pgbench", "pgbench", "the pgbench binary")
	postmaster := fs.Int("postmaster-pid", 0, "pid of the postmaster, for the CPU of all its processes")
	clients := fs.Int("clients", 1, "concurrent clients (connections)")
	threads := fs.Int("threads", 2, "pgbench threads (at most clients)")
	seconds := fs.Int("seconds", 5, "measured time (whole seconds: pgbench -T)")
	warmup := fs.Int("warmup", 1, "unmeasured run before it (seconds, 0 for none)")
	script := fs.String("script", "", "pgbench script file")
	writerScript := fs.String("writer-script", "", "a script a second pgbench runs meanwhile (mixed rows)")
	writerClients := fs.Int("writer-clients", 1, "the second pgbench's clients")
	logDir := fs.String("log-dir", "", "a fresh directory for pgbench's transaction log")
	sampling := fs.Float64("sampling-rate", 0.1, "share of transactions logged for the percentiles")
	_ = fs.Parse(args)
	conn := fs.Args() // -h, -p, -U, dbname
	runs := []pgbenchRun{{script: *script, clients: *clients, threads: min(*threads, *clients), prefix: filepath.Join(*logDir, "tx")}}
	if *writerScript != "" {
		runs = append(runs, pgbenchRun{script: *writerScript, clients: *writerClients, threads: 1, prefix: filepath.Join(*logDir, "writer")})
	}
	// In the writer's run every transaction is logged: it runs few of them.
	sample := func(i int) float64 {
		if i == 0 {
			return *sampling
		}
		return 1
	}
	if *warmup > 0 {
		if err := eachRun(runs, func(i int, r pgbenchRun) error {
			out, err := exec.Command(*pgbin, slices.Concat(r.base(), []string{"-T", strconv.Itoa(*warmup)}, conn)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("warm-up pgbench %s: %w\n%s", r.script, err, out)
			}
			return nil
		}); err != nil {
			return err
		}
	}
	serverBefore, err := serverCPU(*postmaster, true)
	if err != nil {
		return err
	}
	start := time.Now()
	outs := make([]pgbenchOut, len(runs))
	err = eachRun(runs, func(i int, r pgbenchRun) error {
		cmd := exec.Command(*pgbin, slices.Concat(r.base(), []string{
			"-T", strconv.Itoa(*seconds), "-l", "--log-prefix", r.prefix,
			"--sampling-rate", strconv.FormatFloat(sample(i), 'f', -1, 64),
		}, conn)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("pgbench %s: %w\n%s", r.script, err, out)
		}
		outs[i] = pgbenchOut{out: out, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
		return nil
	})
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	// The postmaster reaps each backend as it exits; give it a moment, so the backends'
	// time has moved into its cutime before the second sample.
	time.Sleep(200 * time.Millisecond)
	serverAfter, err := serverCPU(*postmaster, true)
	if err != nil {
		return err
	}
	// pgbench -T runs the clients for exactly that long; the process also connects
	// and disconnects, which `elapsed` would count.
	window := min(float64(*seconds), elapsed.Seconds())
	sides := make([]Side, len(runs))
	var clientCPU time.Duration
	for i, o := range outs {
		m := processedRe.FindSubmatch(o.out)
		if m == nil {
			return fmt.Errorf("pgbench printed no transaction count:\n%s", o.out)
		}
		if strings.Contains(string(o.out), "number of failed transactions: ") &&
			!strings.Contains(string(o.out), "number of failed transactions: 0 ") {
			return fmt.Errorf("pgbench reports failed transactions:\n%s", o.out)
		}
		n, _ := strconv.ParseInt(string(m[1]), 10, 64)
		lat, err := readPgbenchLogs(runs[i].prefix)
		if err != nil {
			return err
		}
		sides[i] = Side{Ops: n, Seconds: window, P50Us: percentile(lat, 0.5), P99Us: percentile(lat, 0.99)}
		clientCPU += o.cpu
	}
	result := Result{
		Ops:         sides[0].Ops,
		Seconds:     window,
		P50Us:       sides[0].P50Us,
		P99Us:       sides[0].P99Us,
		ServerCPUUs: serverAfter - serverBefore,
		ClientCPUUs: float64(clientCPU.Nanoseconds()) / 1e3,
	}
	if len(sides) > 1 {
		result.Writes = &sides[1]
	}
	return printJSON(result)
}

// pgbenchRun is one pgbench process of a row.
type pgbenchRun struct {
	script           string
	clients, threads int
	prefix           string
}

type pgbenchOut struct {
	out []byte
	cpu time.Duration
}

func (r pgbenchRun) base() []string {
	return []string{"-n", "-M", "prepared", "-c", strconv.Itoa(r.clients), "-j", strconv.Itoa(r.threads), "-f", r.script}
}

// eachRun calls f for every run at once and returns the first error.
func eachRun(runs []pgbenchRun, f func(i int, r pgbenchRun) error) error {
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(i, r)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readPgbenchLogs returns the sorted latencies (µs) of every transaction log file with
// the prefix (one per pgbench thread). A line is: client, transaction, latency µs, ….
func readPgbenchLogs(prefix string) ([]float64, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no pgbench log files %s.*", prefix)
	}
	var lat []float64
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 3 {
				continue
			}
			us, err := strconv.ParseFloat(fields[2], 64)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %q: %w", name, sc.Text(), err)
			}
			lat = append(lat, us)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	slices.Sort(lat)
	return lat, nil
}

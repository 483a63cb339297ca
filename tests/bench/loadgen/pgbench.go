package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var processedRe = regexp.MustCompile(`number of transactions actually processed: (\d+)`)

// pgbenchCommand runs one PostgreSQL row: a warm-up run of pgbench, then the measured
// one with a sampled per-transaction log (for the percentiles), CPU sampled around it.
func pgbenchCommand(args []string) error {
	fs := flag.NewFlagSet("pgbench", flag.ExitOnError)
	pgbin := fs.String("pgbench", "pgbench", "the pgbench binary")
	postmaster := fs.Int("postmaster-pid", 0, "pid of the postmaster, for the CPU of all its processes")
	clients := fs.Int("clients", 1, "concurrent clients (connections)")
	threads := fs.Int("threads", 2, "pgbench threads (at most clients)")
	seconds := fs.Int("seconds", 5, "measured time (whole seconds: pgbench -T)")
	warmup := fs.Int("warmup", 1, "unmeasured run before it (seconds, 0 for none)")
	script := fs.String("script", "", "pgbench script file")
	logDir := fs.String("log-dir", "", "a fresh directory for pgbench's transaction log")
	sampling := fs.Float64("sampling-rate", 0.1, "share of transactions logged for the percentiles")
	_ = fs.Parse(args)
	conn := fs.Args() // -h, -p, -U, dbname
	base := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(*clients),
		"-j", strconv.Itoa(min(*threads, *clients)), "-f", *script}
	if *warmup > 0 {
		warm := exec.Command(*pgbin, slices.Concat(base, []string{"-T", strconv.Itoa(*warmup)}, conn)...)
		if out, err := warm.CombinedOutput(); err != nil {
			return fmt.Errorf("warm-up pgbench: %w\n%s", err, out)
		}
	}
	prefix := filepath.Join(*logDir, "tx")
	cmd := exec.Command(*pgbin, slices.Concat(base, []string{
		"-T", strconv.Itoa(*seconds), "-l", "--log-prefix", prefix,
		"--sampling-rate", strconv.FormatFloat(*sampling, 'f', -1, 64),
	}, conn)...)
	serverBefore, err := serverCPU(*postmaster, true)
	if err != nil {
		return err
	}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	// The postmaster reaps each backend as it exits; give it a moment, so the backends'
	// time has moved into its cutime before the second sample.
	time.Sleep(200 * time.Millisecond)
	serverAfter, err := serverCPU(*postmaster, true)
	if err != nil {
		return err
	}
	m := processedRe.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("pgbench printed no transaction count:\n%s", out)
	}
	if strings.Contains(string(out), "number of failed transactions: ") &&
		!strings.Contains(string(out), "number of failed transactions: 0 ") {
		return fmt.Errorf("pgbench reports failed transactions:\n%s", out)
	}
	n, _ := strconv.ParseInt(string(m[1]), 10, 64)
	lat, err := readPgbenchLogs(prefix)
	if err != nil {
		return err
	}
	usage := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return printJSON(Result{
		Ops: n,
		// pgbench -T runs the clients for exactly that long; the process also connects
		// and disconnects, which `elapsed` would count.
		Seconds:     min(float64(*seconds), elapsed.Seconds()),
		P50Us:       percentile(lat, 0.5),
		P99Us:       percentile(lat, 0.99),
		ServerCPUUs: serverAfter - serverBefore,
		ClientCPUUs: float64(usage.Nanoseconds()) / 1e3,
	})
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

// Command loadgen drives `entdb serve` (over Connect or gRPC) and PostgreSQL (through
// pgbench) for `npm run bench:pg`, and measures each run the same way: operations per
// second, latency percentiles, the server's CPU per operation (from /proc) and its own.
//
// It is compiled and independent of the server's code: it shares only the .proto files
// (Go code generated into gen/ by buf.gen.yaml). Every answer is checked, so a row
// never counts an error as an operation. `run` drives EntDB with its lean client
// (lean-conn.go: HTTP/2 written with x/net's Framer and hpack, answers checked from their
// wire bytes) unless --client connect picks connect-go, what a Go application would use.
//
//	loadgen load    --url U --tenant T --ids FILE            # the data set, through Connect
//	loadgen run     --url U --protocol connect|grpc --client lean|connect --op OP
//	                --clients N --conns C --seconds S
//	                --ids FILE --server-pid P                # one EntDB row, JSON on stdout
//	loadgen pgbench --postmaster-pid P --clients N --seconds S --script F
//	                [--writer-script W --writer-clients 1]
//	                --log-dir D -- <connection args>         # one PostgreSQL row, JSON
//
// A mixed row's op is READ+WRITE (`query-50+create-team`): its N clients run READ while
// one more client runs WRITE over the same window, and the JSON adds `writes` (the
// writer's calls); for PostgreSQL a second pgbench runs --writer-script meanwhile.
package main

import (
	"encoding/json"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "load":
		err = loadCommand(os.Args[2:])
	case "run":
		err = runCommand(os.Args[2:])
	case "pgbench":
		err = pgbenchCommand(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: loadgen load|run|pgbench [flags] (see main.go)")
	os.Exit(2)
}

// printJSON writes v as one line of JSON on stdout: the caller's only input.
func printJSON(v any) error {
	return json.NewEncoder(os.Stdout).Encode(v)
}

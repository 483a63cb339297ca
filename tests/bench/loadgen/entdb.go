package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	v1 "entdb/tests/bench/loadgen/gen/entdb/v1"
	"entdb/tests/bench/loadgen/gen/entdb/v1/entdbv1connect"
)

// The data set, the same as the PostgreSQL one (tests/bench/pg/schema.sql): users
// joined one second apart from joinedBase; the first edgeSources users are members of
// edgesPerNode teams each, so every team has edgesPerNode members.
const (
	userCount    = 2200
	teamCount    = 200
	edgeSources  = 200
	edgesPerNode = 10
	batchSize    = 100
	queryLimit   = 50
	userTypeID   = 1
	teamTypeID   = 2
	memberOfID   = 100
	joinedAtID   = 6
)

var joinedBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// ids are the node ids `load` created, for `run` to read and link.
type ids struct {
	Users []string `json:"users"`
	Teams []string `json:"teams"`
}

// newClient is an EntDB client over one cleartext HTTP/2 connection (prior knowledge),
// speaking the Connect protocol or gRPC, with binary protobuf bodies.
func newClient(url, protocol string) (entdbv1connect.EntDbServiceClient, error) {
	protocols := new(http.Protocols)
	protocols.SetUnencryptedHTTP2(true)
	httpClient := &http.Client{Transport: &http.Transport{Protocols: protocols}}
	switch protocol {
	case "connect":
		return entdbv1connect.NewEntDbServiceClient(httpClient, url), nil
	case "grpc":
		return entdbv1connect.NewEntDbServiceClient(httpClient, url, connect.WithGRPC()), nil
	}
	return nil, fmt.Errorf("--protocol %q: use connect or grpc", protocol)
}

func str(s string) *v1.Value { return &v1.Value{Kind: &v1.Value_StringValue{StringValue: s}} }

// ts is a timestamp value; EntDB stores microseconds and rejects finer instants.
func ts(t time.Time) *v1.Value {
	return &v1.Value{Kind: &v1.Value_TimestampValue{TimestampValue: timestamppb.New(t.Truncate(time.Microsecond))}}
}

func createUser(alias, tag string, joined time.Time) *v1.Operation {
	return &v1.Operation{Op: &v1.Operation_CreateNode{CreateNode: &v1.CreateNode{
		TypeId: userTypeID,
		Alias:  alias,
		Fields: map[uint32]*v1.Value{
			1: str("user-" + tag + "@example.com"),
			2: str("User " + tag),
			3: str("user" + tag),
			6: ts(joined),
		},
	}}}
}

func createTeam(alias, tag string) *v1.Operation {
	return &v1.Operation{Op: &v1.Operation_CreateNode{CreateNode: &v1.CreateNode{
		TypeId: teamTypeID,
		Alias:  alias,
		Fields: map[uint32]*v1.Value{1: str("Team " + tag), 2: str("team-" + tag)},
	}}}
}

func createEdge(from, to string, since time.Time) *v1.Operation {
	return &v1.Operation{Op: &v1.Operation_CreateEdge{CreateEdge: &v1.CreateEdge{
		EdgeTypeId: memberOfID,
		FromId:     from,
		ToId:       to,
		Props:      map[uint32]*v1.Value{2: ts(since)},
	}}}
}

// execute runs one plan and checks that it was applied with one result per operation.
func execute(ctx context.Context, c entdbv1connect.EntDbServiceClient, tenant string, ops []*v1.Operation) ([]*v1.OperationResult, error) {
	res, err := c.ExecutePlan(ctx, &v1.ExecutePlanRequest{Tenant: tenant, Operations: ops})
	if err != nil {
		return nil, err
	}
	if !res.Receipt.GetApplied() || len(res.Results) != len(ops) {
		return nil, fmt.Errorf("plan of %d operations: applied=%v, %d results", len(ops), res.Receipt.GetApplied(), len(res.Results))
	}
	return res.Results, nil
}

func loadCommand(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	url := fs.String("url", "", "EntDB base URL")
	tenant := fs.String("tenant", "bench", "tenant")
	idsFile := fs.String("ids", "", "where to write the created ids (JSON)")
	_ = fs.Parse(args)
	c, err := newClient(*url, "connect")
	if err != nil {
		return err
	}
	ctx := context.Background()
	var out ids
	for start := 0; start < userCount; start += batchSize {
		ops := make([]*v1.Operation, 0, batchSize)
		for i := start; i < start+batchSize && i < userCount; i++ {
			ops = append(ops, createUser("", strconv.Itoa(i), joinedBase.Add(time.Duration(i)*time.Second)))
		}
		results, err := execute(ctx, c, *tenant, ops)
		if err != nil {
			return fmt.Errorf("users from %d: %w", start, err)
		}
		for _, r := range results {
			out.Users = append(out.Users, r.Id)
		}
	}
	for start := 0; start < teamCount; start += batchSize {
		ops := make([]*v1.Operation, 0, batchSize)
		for i := start; i < start+batchSize && i < teamCount; i++ {
			ops = append(ops, createTeam("", strconv.Itoa(i)))
		}
		results, err := execute(ctx, c, *tenant, ops)
		if err != nil {
			return fmt.Errorf("teams from %d: %w", start, err)
		}
		for _, r := range results {
			out.Teams = append(out.Teams, r.Id)
		}
	}
	// User u (< edgeSources) joins teams u, u+20, u+40, ...: every team gets exactly
	// edgesPerNode members and no pair repeats.
	var edges []*v1.Operation
	for u := range edgeSources {
		for k := range edgesPerNode {
			team := out.Teams[(u+k*teamCount/edgesPerNode)%teamCount]
			edges = append(edges, createEdge(out.Users[u], team, joinedBase))
		}
	}
	for start := 0; start < len(edges); start += batchSize {
		if _, err := execute(ctx, c, *tenant, edges[start:min(start+batchSize, len(edges))]); err != nil {
			return fmt.Errorf("edges from %d: %w", start, err)
		}
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return os.WriteFile(*idsFile, raw, 0o644)
}

func runCommand(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", "", "EntDB base URL")
	protocol := fs.String("protocol", "connect", "connect or grpc")
	client := fs.String("client", "lean", "lean (its own HTTP/2 framing, lean-conn.go) or connect (connect-go over net/http)")
	tenant := fs.String("tenant", "bench", "tenant")
	op := fs.String("op", "", "the row to run")
	clients := fs.Int("clients", 1, "concurrent clients (closed loops)")
	conns := fs.Int("conns", 1, "HTTP/2 connections the clients share (client i uses connection i mod conns)")
	seconds := fs.Float64("seconds", 5, "measured time")
	warmup := fs.Float64("warmup", 1, "unmeasured time before it")
	idsFile := fs.String("ids", "", "ids written by load")
	serverPid := fs.Int("server-pid", 0, "pid of entdb serve, for its CPU time")
	procs := fs.Int("procs", 1, "GOMAXPROCS for the lean client (the connect client keeps Go's default)")
	_ = fs.Parse(args)
	// Fewer collections: the heap is small and stays so, and every µs of CPU this
	// process saves is left to the server on the shared cores.
	debug.SetGCPercent(400)
	raw, err := os.ReadFile(*idsFile)
	if err != nil {
		return err
	}
	var data ids
	if err := json.Unmarshal(raw, &data); err != nil {
		return fmt.Errorf("%s: %w", *idsFile, err)
	}
	if *conns < 1 {
		return fmt.Errorf("--conns %d: use at least 1", *conns)
	}
	// "READ+WRITE": the row's clients run READ while one more client runs WRITE.
	readOp, writeOp, mixed := strings.Cut(*op, "+")
	writers := 0
	if mixed {
		writers = 1
	}
	next, err := rowCalls(readOp, *tenant, data)
	if err != nil {
		return err
	}
	nextWrite := next
	if mixed {
		if nextWrite, err = rowCalls(writeOp, *tenant, data); err != nil {
			return err
		}
	}
	var do func(worker int, c call) error
	switch *client {
	case "lean":
		// One P by default: its calls then hand off between goroutines on one thread,
		// which costs less CPU per call than waking a second one, and a call takes so
		// little that one core drives more calls than the server answers.
		if *procs < 1 {
			return fmt.Errorf("--procs %d: use at least 1", *procs)
		}
		runtime.GOMAXPROCS(*procs)
		lc, err := newLeanClient(*url, *protocol, *conns, *clients+writers)
		if err != nil {
			return err
		}
		defer lc.close()
		do = func(w int, c call) error { return leanCall(lc, w, c) }
	case "connect":
		cs := make([]entdbv1connect.EntDbServiceClient, *conns)
		for i := range cs {
			// A client per connection: each has its own transport, so its own HTTP/2 connection.
			if cs[i], err = newClient(*url, *protocol); err != nil {
				return err
			}
		}
		ctx := context.Background()
		do = func(w int, c call) error { return connectCall(ctx, cs[w%len(cs)], c) }
	default:
		return fmt.Errorf("--client %q: use lean or connect", *client)
	}
	// Readers are clients 0..clients-1; the writer, if any, is client `clients`.
	read := func(w int) error { return do(w, next()) }
	write := func(w int) error { return do(*clients+w, nextWrite()) }
	both := func(d time.Duration) (reads, writes loopResult, err error) {
		if !mixed {
			reads, err = runLoop(*clients, d, read)
			return reads, writes, err
		}
		return concurrentLoops(*clients, read, writers, write, d)
	}
	if _, _, err := both(time.Duration(*warmup * float64(time.Second))); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	serverBefore, err := serverCPU(*serverPid, false)
	if err != nil {
		return err
	}
	clientBefore := selfCPU()
	reads, writes, err := both(time.Duration(*seconds * float64(time.Second)))
	if err != nil {
		return err
	}
	clientAfter := selfCPU()
	serverAfter, err := serverCPU(*serverPid, false)
	if err != nil {
		return err
	}
	n, lat, elapsed := reads.n, reads.lat, reads.elapsed
	var w *Side
	if mixed {
		w = writes.side()
	}
	return printJSON(Result{
		Ops:         n,
		Seconds:     elapsed.Seconds(),
		P50Us:       percentile(lat, 0.5),
		P99Us:       percentile(lat, 0.99),
		ServerCPUUs: serverAfter - serverBefore,
		ClientCPUUs: clientAfter - clientBefore,
		Writes:      w,
	})
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"sync/atomic"
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
			ops = append(ops, &v1.Operation{Op: &v1.Operation_CreateNode{CreateNode: &v1.CreateNode{
				TypeId: teamTypeID,
				Fields: map[uint32]*v1.Value{1: str("Team " + strconv.Itoa(i)), 2: str("team-" + strconv.Itoa(i))},
			}}})
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

// operation returns the call one client makes per iteration of row `op`.
// Client w uses connection w mod len(cs).
func operation(op string, cs []entdbv1connect.EntDbServiceClient, tenant string, data ids) (func(worker int) error, error) {
	ctx := context.Background()
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var seq atomic.Int64
	tag := func() string { return run + "-" + strconv.FormatInt(seq.Add(1), 10) }
	randomUser := func() string { return data.Users[rand.IntN(len(data.Users))] }
	switch op {
	case "create":
		return func(w int) error {
			c := cs[w%len(cs)]
			_, err := execute(ctx, c, tenant, []*v1.Operation{createUser("", tag(), time.Now())})
			return err
		}, nil
	case "node-edge":
		return func(w int) error {
			c := cs[w%len(cs)]
			now := time.Now()
			team := data.Teams[rand.IntN(len(data.Teams))]
			_, err := execute(ctx, c, tenant, []*v1.Operation{createUser("u", tag(), now), createEdge("$u", team, now)})
			return err
		}, nil
	case "create-100":
		return func(w int) error {
			c := cs[w%len(cs)]
			now := time.Now()
			ops := make([]*v1.Operation, batchSize)
			for i := range ops {
				ops[i] = createUser("", tag(), now)
			}
			_, err := execute(ctx, c, tenant, ops)
			return err
		}, nil
	case "get":
		return func(w int) error {
			c := cs[w%len(cs)]
			id := randomUser()
			res, err := c.GetNode(ctx, &v1.GetNodeRequest{Tenant: tenant, TypeId: userTypeID, Id: id})
			if err == nil && res.Node.GetId() != id {
				err = fmt.Errorf("GetNode(%s) answered node %q", id, res.Node.GetId())
			}
			return err
		}, nil
	case "get-100":
		return func(w int) error {
			c := cs[w%len(cs)]
			req := &v1.GetNodesRequest{Tenant: tenant, TypeId: userTypeID, Ids: make([]string, batchSize)}
			for i := range req.Ids {
				req.Ids[i] = randomUser()
			}
			res, err := c.GetNodes(ctx, req)
			if err == nil && (len(res.Nodes) == 0 || len(res.MissingIds) > 0) {
				err = fmt.Errorf("GetNodes of %d ids: %d nodes, %d missing", batchSize, len(res.Nodes), len(res.MissingIds))
			}
			return err
		}, nil
	case "query-50":
		return func(w int) error {
			c := cs[w%len(cs)]
			from := joinedBase.Add(time.Duration(rand.IntN(userCount-queryLimit)) * time.Second)
			res, err := c.QueryNodes(ctx, &v1.QueryNodesRequest{
				Tenant:  tenant,
				TypeId:  userTypeID,
				Filters: []*v1.Filter{{FieldId: joinedAtID, Op: v1.FilterOp_FILTER_OP_GTE, Values: []*v1.Value{ts(from)}}},
				OrderBy: &v1.OrderBy{FieldId: joinedAtID},
				Limit:   queryLimit,
			})
			if err == nil && len(res.Nodes) != queryLimit {
				err = fmt.Errorf("QueryNodes answered %d rows, not %d", len(res.Nodes), queryLimit)
			}
			return err
		}, nil
	case "edges-out", "edges-in":
		return func(w int) error {
			c := cs[w%len(cs)]
			req := &v1.ListEdgesRequest{Tenant: tenant, EdgeTypeId: memberOfID, Limit: queryLimit}
			if op == "edges-out" {
				req.NodeId, req.Direction = data.Users[rand.IntN(edgeSources)], v1.Direction_DIRECTION_OUT
			} else {
				req.NodeId, req.Direction = data.Teams[rand.IntN(teamCount)], v1.Direction_DIRECTION_IN
			}
			res, err := c.ListEdges(ctx, req)
			if err == nil && len(res.Edges) != edgesPerNode {
				err = fmt.Errorf("ListEdges(%s, %v) answered %d edges, not %d", req.NodeId, req.Direction, len(res.Edges), edgesPerNode)
			}
			return err
		}, nil
	}
	return nil, fmt.Errorf("--op %q: use create, node-edge, create-100, get, get-100, query-50, edges-out or edges-in", op)
}

func runCommand(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	url := fs.String("url", "", "EntDB base URL")
	protocol := fs.String("protocol", "connect", "connect or grpc")
	tenant := fs.String("tenant", "bench", "tenant")
	op := fs.String("op", "", "the row to run")
	clients := fs.Int("clients", 1, "concurrent clients (closed loops)")
	conns := fs.Int("conns", 1, "HTTP/2 connections the clients share (client i uses connection i mod conns)")
	seconds := fs.Float64("seconds", 5, "measured time")
	warmup := fs.Float64("warmup", 1, "unmeasured time before it")
	idsFile := fs.String("ids", "", "ids written by load")
	serverPid := fs.Int("server-pid", 0, "pid of entdb serve, for its CPU time")
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
	cs := make([]entdbv1connect.EntDbServiceClient, *conns)
	for i := range cs {
		// A client per connection: each has its own transport, so its own HTTP/2 connection.
		if cs[i], err = newClient(*url, *protocol); err != nil {
			return err
		}
	}
	call, err := operation(*op, cs, *tenant, data)
	if err != nil {
		return err
	}
	if _, _, _, err := closedLoop(*clients, time.Duration(*warmup*float64(time.Second)), call); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	serverBefore, err := serverCPU(*serverPid, false)
	if err != nil {
		return err
	}
	clientBefore := selfCPU()
	n, lat, elapsed, err := closedLoop(*clients, time.Duration(*seconds*float64(time.Second)), call)
	if err != nil {
		return err
	}
	clientAfter := selfCPU()
	serverAfter, err := serverCPU(*serverPid, false)
	if err != nil {
		return err
	}
	return printJSON(Result{
		Ops:         n,
		Seconds:     elapsed.Seconds(),
		P50Us:       percentile(lat, 0.5),
		P99Us:       percentile(lat, 0.99),
		ServerCPUUs: serverAfter - serverBefore,
		ClientCPUUs: clientAfter - clientBefore,
	})
}

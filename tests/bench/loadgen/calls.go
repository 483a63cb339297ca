package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	v1 "entdb/tests/bench/loadgen/gen/entdb/v1"
	"entdb/tests/bench/loadgen/gen/entdb/v1/entdbv1connect"
)

// call is one request of a row and what its answer must hold; either client sends it.
type call struct {
	method string // the EntDbService method
	req    proto.Message
	// plan, for ExecutePlan (req is nil): its steps, in tenant.
	plan   []step
	tenant string
	// steps: ExecutePlan's operations (one result each); id: the node GetNode asks for;
	// rows: the nodes or edges a page must hold.
	steps int
	id    string
	rows  int
}

// rowCalls returns the generator of row op's calls.
func rowCalls(op, tenant string, data ids) (func() call, error) {
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var seq atomic.Int64
	tag := func() string { return run + "-" + strconv.FormatInt(seq.Add(1), 10) }
	randomUser := func() string { return data.Users[rand.IntN(len(data.Users))] }
	plan := func(steps ...step) call {
		return call{method: "ExecutePlan", plan: steps, tenant: tenant, steps: len(steps)}
	}
	switch op {
	case "create":
		return func() call { return plan(step{tag: tag(), at: time.Now()}) }, nil
	case "create-team":
		return func() call { return plan(step{team: true, tag: tag()}) }, nil
	case "node-edge":
		return func() call {
			now := time.Now()
			team := data.Teams[rand.IntN(len(data.Teams))]
			return plan(step{alias: "u", tag: tag(), at: now}, step{edge: true, from: "$u", to: team, at: now})
		}, nil
	case "create-100":
		return func() call {
			now := time.Now()
			steps := make([]step, batchSize)
			for i := range steps {
				steps[i] = step{tag: tag(), at: now}
			}
			return plan(steps...)
		}, nil
	case "get":
		return func() call {
			id := randomUser()
			return call{method: "GetNode", req: &v1.GetNodeRequest{Tenant: tenant, TypeId: userTypeID, Id: id}, id: id}
		}, nil
	case "get-100":
		return func() call {
			req := &v1.GetNodesRequest{Tenant: tenant, TypeId: userTypeID, Ids: make([]string, batchSize)}
			for i := range req.Ids {
				req.Ids[i] = randomUser()
			}
			return call{method: "GetNodes", req: req}
		}, nil
	case "query-50":
		return func() call {
			from := joinedBase.Add(time.Duration(rand.IntN(userCount-queryLimit)) * time.Second)
			return call{method: "QueryNodes", rows: queryLimit, req: &v1.QueryNodesRequest{
				Tenant:  tenant,
				TypeId:  userTypeID,
				Filters: []*v1.Filter{{FieldId: joinedAtID, Op: v1.FilterOp_FILTER_OP_GTE, Values: []*v1.Value{ts(from)}}},
				OrderBy: &v1.OrderBy{FieldId: joinedAtID},
				Limit:   queryLimit,
			}}
		}, nil
	case "edges-out", "edges-in":
		return func() call {
			req := &v1.ListEdgesRequest{Tenant: tenant, EdgeTypeId: memberOfID, Limit: queryLimit}
			if op == "edges-out" {
				req.NodeId, req.Direction = data.Users[rand.IntN(edgeSources)], v1.Direction_DIRECTION_OUT
			} else {
				req.NodeId, req.Direction = data.Teams[rand.IntN(teamCount)], v1.Direction_DIRECTION_IN
			}
			return call{method: "ListEdges", req: req, rows: edgesPerNode}
		}, nil
	}
	return nil, fmt.Errorf("--op %q: use create, create-team, node-edge, create-100, get, get-100, query-50, edges-out or edges-in", op)
}

// connectCall sends c through connect-go and checks the decoded answer.
func connectCall(ctx context.Context, cl entdbv1connect.EntDbServiceClient, c call) error {
	if c.plan != nil {
		_, err := execute(ctx, cl, c.tenant, planOperations(c.plan))
		return err
	}
	switch req := c.req.(type) {
	case *v1.GetNodeRequest:
		res, err := cl.GetNode(ctx, req)
		if err == nil && res.Node.GetId() != c.id {
			err = fmt.Errorf("GetNode(%s) answered node %q", c.id, res.Node.GetId())
		}
		return err
	case *v1.GetNodesRequest:
		res, err := cl.GetNodes(ctx, req)
		return checkGetNodes(err, len(req.Ids), len(res.GetNodes()), len(res.GetMissingIds()))
	case *v1.QueryNodesRequest:
		res, err := cl.QueryNodes(ctx, req)
		if err == nil && len(res.Nodes) != c.rows {
			err = fmt.Errorf("QueryNodes answered %d rows, not %d", len(res.Nodes), c.rows)
		}
		return err
	case *v1.ListEdgesRequest:
		res, err := cl.ListEdges(ctx, req)
		if err == nil && len(res.Edges) != c.rows {
			err = edgesError(req, len(res.Edges), c.rows)
		}
		return err
	}
	return fmt.Errorf("no connect call for %T", c.req)
}

// leanCall sends c through the lean client as client w and checks the answer's bytes.
func leanCall(cl *leanClient, w int, c call) error {
	if c.plan != nil {
		b, err := cl.call(w, c.method, func(b []byte) ([]byte, error) { return appendPlan(b, c.tenant, c.plan), nil })
		if err != nil {
			return err
		}
		return checkPlan(b, c.steps)
	}
	b, err := cl.call(w, c.method, func(b []byte) ([]byte, error) { return proto.MarshalOptions{}.MarshalAppend(b, c.req) })
	if err != nil {
		return err
	}
	switch req := c.req.(type) {
	case *v1.GetNodeRequest:
		return checkNode(b, c.id)
	case *v1.GetNodesRequest:
		nodes, missing, err := repeatedMessages(c.method, b)
		return checkGetNodes(err, len(req.Ids), nodes, missing)
	case *v1.QueryNodesRequest:
		nodes, _, err := repeatedMessages(c.method, b)
		if err == nil && nodes != c.rows {
			err = fmt.Errorf("QueryNodes answered %d rows, not %d", nodes, c.rows)
		}
		return err
	case *v1.ListEdgesRequest:
		edges, _, err := repeatedMessages(c.method, b)
		if err == nil && edges != c.rows {
			err = edgesError(req, edges, c.rows)
		}
		return err
	}
	return fmt.Errorf("no lean check for %T", c.req)
}

func checkGetNodes(err error, asked, nodes, missing int) error {
	if err == nil && (nodes == 0 || missing > 0) {
		err = fmt.Errorf("GetNodes of %d ids: %d nodes, %d missing", asked, nodes, missing)
	}
	return err
}

func edgesError(req *v1.ListEdgesRequest, got, want int) error {
	return fmt.Errorf("ListEdges(%s, %v) answered %d edges, not %d", req.NodeId, req.Direction, got, want)
}

package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	v1 "entdb/tests/bench/loadgen/gen/entdb/v1"
)

// The lean client's plan bytes decode to the very request the connect client sends.
func TestAppendPlanMatchesTheMessages(t *testing.T) {
	at := time.Date(2026, 12, 7, 4, 30, 1, 123456789, time.UTC)
	long := string(make([]byte, 300)) // lengths past one varint byte
	for _, steps := range [][]step{
		{{tag: "1", at: at}},
		{{alias: "u", tag: "x-7", at: at}, {edge: true, from: "$u", to: "team-1", at: at}},
		{{tag: long, at: time.Unix(0, 0)}, {tag: "", at: joinedBase}},
		{{team: true, tag: "b-1"}, {team: true, alias: "t", tag: long}},
	} {
		got := &v1.ExecutePlanRequest{}
		if err := proto.Unmarshal(appendPlan([]byte("kept"), "bench", steps)[4:], got); err != nil {
			t.Fatal(err)
		}
		want := &v1.ExecutePlanRequest{Tenant: "bench", Operations: planOperations(steps)}
		if !proto.Equal(got, want) {
			t.Fatalf("appendPlan(%v) decodes to\n%v\nnot\n%v", steps, got, want)
		}
	}
}

// The wire checks accept what the server would answer and name what is wrong.
func TestWireChecks(t *testing.T) {
	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	plan := marshal(&v1.ExecutePlanResponse{
		Receipt: &v1.Receipt{Tenant: "bench", Applied: true},
		Results: []*v1.OperationResult{{Id: "a", Created: true}, {}},
	})
	if err := checkPlan(plan, 2); err != nil {
		t.Fatal(err)
	}
	if err := checkPlan(plan, 3); err == nil || err.Error() != "plan of 3 operations: applied=true, 2 results" {
		t.Fatalf("checkPlan(3 steps) = %v", err)
	}
	unapplied := marshal(&v1.ExecutePlanResponse{Receipt: &v1.Receipt{Tenant: "bench"}, Results: []*v1.OperationResult{{}}})
	if err := checkPlan(unapplied, 1); err == nil || err.Error() != "plan of 1 operations: applied=false, 1 results" {
		t.Fatalf("checkPlan(unapplied) = %v", err)
	}
	node := marshal(&v1.GetNodeResponse{Node: &v1.Node{Id: "n1", TypeId: 1, Fields: map[uint32]*v1.Value{1: str("x")}}})
	if err := checkNode(node, "n1"); err != nil {
		t.Fatal(err)
	}
	if err := checkNode(node, "n2"); err == nil || err.Error() != `GetNode(n2) answered node "n1"` {
		t.Fatalf("checkNode(n2) = %v", err)
	}
	nodes := marshal(&v1.GetNodesResponse{Nodes: []*v1.Node{{Id: "a"}, {Id: "b"}}, MissingIds: []string{"c"}})
	if n, missing, err := repeatedMessages("GetNodes", nodes); err != nil || n != 2 || missing != 1 {
		t.Fatalf("repeatedMessages = %d, %d, %v", n, missing, err)
	}
	// A node cut short inside the answer is malformed, not a short page.
	if _, _, err := repeatedMessages("QueryNodes", nodes[:len(nodes)-4]); err == nil {
		t.Fatal("a truncated answer passed")
	}
}

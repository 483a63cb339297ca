package main

import (
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	v1 "entdb/tests/bench/loadgen/gen/entdb/v1"
)

// step is one write of a benchmark plan: a user (alias, tag, when joined), with team set
// a team (tag), or, with edge set, a member_of edge from one node to another since at. The connect client builds Go
// messages from it (createUser, createEdge); the lean client appends its wire bytes
// directly (appendPlan), which costs a fraction of building and marshalling the
// messages with their maps. plan-wire_test.go checks the two agree.
type step struct {
	edge     bool
	team     bool
	alias    string
	tag      string
	from, to string
	at       time.Time
}

func (s step) operation() *v1.Operation {
	if s.edge {
		return createEdge(s.from, s.to, s.at)
	}
	if s.team {
		return createTeam(s.alias, s.tag)
	}
	return createUser(s.alias, s.tag, s.at)
}

func planOperations(steps []step) []*v1.Operation {
	ops := make([]*v1.Operation, len(steps))
	for i, s := range steps {
		ops[i] = s.operation()
	}
	return ops
}

// appendPlan appends ExecutePlanRequest{tenant = 1, operations = 2} for steps to b.
func appendPlan(b []byte, tenant string, steps []step) []byte {
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendString(b, tenant)
	for _, s := range steps {
		b = appendNested(b, 2, func(b []byte) []byte { return appendOperation(b, s) })
	}
	return b
}

// appendOperation: Operation{create_node = 1 | create_edge = 4}.
func appendOperation(b []byte, s step) []byte {
	if s.edge {
		// CreateEdge{edge_type_id = 1, from_id = 2, to_id = 3, props = 4}
		return appendNested(b, 4, func(b []byte) []byte {
			b = protowire.AppendTag(b, 1, protowire.VarintType)
			b = protowire.AppendVarint(b, memberOfID)
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = protowire.AppendString(b, s.from)
			b = protowire.AppendTag(b, 3, protowire.BytesType)
			b = protowire.AppendString(b, s.to)
			return appendTimestampEntry(b, 4, 2, s.at)
		})
	}
	if s.team {
		// CreateNode{type_id = 1, alias = 2, fields = 3}, the fields as createTeam sets them.
		return appendNested(b, 1, func(b []byte) []byte {
			b = protowire.AppendTag(b, 1, protowire.VarintType)
			b = protowire.AppendVarint(b, teamTypeID)
			if s.alias != "" {
				b = protowire.AppendTag(b, 2, protowire.BytesType)
				b = protowire.AppendString(b, s.alias)
			}
			b = appendStringEntry(b, 3, 1, "Team ", s.tag, "")
			return appendStringEntry(b, 3, 2, "team-", s.tag, "")
		})
	}
	// CreateNode{type_id = 1, alias = 2, fields = 3}, the fields as createUser sets them.
	return appendNested(b, 1, func(b []byte) []byte {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, userTypeID)
		if s.alias != "" {
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = protowire.AppendString(b, s.alias)
		}
		b = appendStringEntry(b, 3, 1, "user-", s.tag, "@example.com")
		b = appendStringEntry(b, 3, 2, "User ", s.tag, "")
		b = appendStringEntry(b, 3, 3, "user", s.tag, "")
		return appendTimestampEntry(b, 3, joinedAtID, s.at)
	})
}

// appendStringEntry appends a map<uint32, Value> entry {key = 1, value = 2} of field num
// whose value is Value{string_value = 2} of prefix+tag+suffix.
func appendStringEntry(b []byte, num protowire.Number, key uint64, prefix, tag, suffix string) []byte {
	return appendNested(b, num, func(b []byte) []byte {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, key)
		return appendNested(b, 2, func(b []byte) []byte {
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(len(prefix)+len(tag)+len(suffix)))
			return append(append(append(b, prefix...), tag...), suffix...)
		})
	})
}

// appendTimestampEntry: as appendStringEntry, with Value{timestamp_value = 6} of t to the
// microsecond (google.protobuf.Timestamp{seconds = 1, nanos = 2}, zero fields left out).
func appendTimestampEntry(b []byte, num protowire.Number, key uint64, t time.Time) []byte {
	t = t.Truncate(time.Microsecond)
	return appendNested(b, num, func(b []byte) []byte {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, key)
		return appendNested(b, 2, func(b []byte) []byte {
			return appendNested(b, 6, func(b []byte) []byte {
				if sec := t.Unix(); sec != 0 {
					b = protowire.AppendTag(b, 1, protowire.VarintType)
					b = protowire.AppendVarint(b, uint64(sec))
				}
				if nanos := t.Nanosecond(); nanos != 0 {
					b = protowire.AppendTag(b, 2, protowire.VarintType)
					b = protowire.AppendVarint(b, uint64(nanos))
				}
				return b
			})
		})
	})
}

// appendNested appends field num as a length-delimited message whose contents fill
// appends: the contents go first, then move up to make room for their length.
func appendNested(b []byte, num protowire.Number, fill func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	start := len(b)
	b = fill(b)
	n := len(b) - start
	size := protowire.SizeVarint(uint64(n))
	for range size {
		b = append(b, 0)
	}
	copy(b[start+size:], b[start:start+n])
	protowire.AppendVarint(b[start:start], uint64(n))
	return b
}

package main

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// The lean client's checks of an answer, read from its wire bytes: the same checks the
// connect client makes on the decoded message. Every field of the answer, and of each
// node, edge, result and receipt in it, is walked, so a malformed answer fails too.

// walk calls f on each field of the message b, with a length-delimited field's contents
// in val and a varint's value in v; it fails on bytes that are not a message.
func walk(method string, b []byte, f func(num protowire.Number, typ protowire.Type, val []byte, v uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return wireError(method, n)
		}
		b = b[n:]
		var val []byte
		var v uint64
		switch typ {
		case protowire.BytesType:
			val, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return wireError(method, n)
		}
		b = b[n:]
		if f != nil {
			if err := f(num, typ, val, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// repeatedMessages counts field 1's messages in b (nodes, edges, results), walking each,
// and how many values field 2 holds (GetNodes' missing ids).
func repeatedMessages(method string, b []byte) (ones, twos int, err error) {
	err = walk(method, b, func(num protowire.Number, typ protowire.Type, val []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			ones++
			return walk(method, val, nil)
		case num == 2:
			twos++
		}
		return nil
	})
	return ones, twos, err
}

// checkPlan: ExecutePlanResponse{receipt = 1 {applied = 3}, results = 2}.
func checkPlan(b []byte, steps int) error {
	const method = "ExecutePlan"
	applied, results := false, 0
	err := walk(method, b, func(num protowire.Number, typ protowire.Type, val []byte, _ uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			return walk(method, val, func(num protowire.Number, typ protowire.Type, _ []byte, v uint64) error {
				if num == 3 && typ == protowire.VarintType {
					applied = v != 0
				}
				return nil
			})
		case num == 2 && typ == protowire.BytesType:
			results++
			return walk(method, val, nil)
		}
		return nil
	})
	if err == nil && (!applied || results != steps) {
		err = fmt.Errorf("plan of %d operations: applied=%v, %d results", steps, applied, results)
	}
	return err
}

// checkNode: GetNodeResponse{node = 1 {id = 1}} for the node asked for.
func checkNode(b []byte, id string) error {
	const method = "GetNode"
	var got []byte
	err := walk(method, b, func(num protowire.Number, typ protowire.Type, val []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		return walk(method, val, func(num protowire.Number, typ protowire.Type, val []byte, _ uint64) error {
			if num == 1 && typ == protowire.BytesType {
				got = val
			}
			return nil
		})
	})
	if err == nil && string(got) != id {
		err = fmt.Errorf("GetNode(%s) answered node %q", id, got)
	}
	return err
}

package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"

	"entdb/tests/bench/loadgen/gen/entdb/v1/entdbv1connect"
)

// leanClient calls EntDB over its own HTTP/2 connections (lean-conn.go), framing each
// call as Connect unary or gRPC by hand and checking each answer by walking its wire
// bytes (wire-check.go) rather than building Go messages from them.
type leanClient struct {
	conns []*leanConn
	grpc  bool
	// workers[w] is client w's reusable stream and request buffer.
	workers []*leanWorker
}

type leanWorker struct {
	conn   *leanConn
	stream *leanStream
	buf    []byte
}

func newLeanClient(base, protocol string, conns, clients int) (*leanClient, error) {
	c := &leanClient{}
	switch protocol {
	case "connect":
	case "grpc":
		c.grpc = true
	default:
		return nil, fmt.Errorf("--protocol %q: use connect or grpc", protocol)
	}
	for i := range conns {
		// Client w uses connection w mod conns: one that only client i uses is solo,
		// and that client reads its own answers (lean-conn.go).
		conn, err := dialLean(base, i < clients && clients <= conns+i)
		if err != nil {
			c.close()
			return nil, err
		}
		c.conns = append(c.conns, conn)
	}
	for w := range clients {
		c.workers = append(c.workers, &leanWorker{conn: c.conns[w%conns], stream: newLeanStream()})
	}
	return c, nil
}

func (c *leanClient) close() {
	for _, conn := range c.conns {
		conn.close()
	}
}

// call sends the message encode appends to method as client w and returns the answer's
// message bytes, or the error the server answered (its code and message) or the
// transport's.
func (c *leanClient) call(w int, method string, encode func([]byte) ([]byte, error)) ([]byte, error) {
	wk := c.workers[w]
	buf := wk.buf[:0]
	if c.grpc {
		buf = append(buf, 0, 0, 0, 0, 0) // not compressed, then the length
	}
	buf, err := encode(buf)
	if err != nil {
		return nil, err
	}
	wk.buf = buf
	path := "/" + entdbv1connect.EntDbServiceName + "/" + method
	s := wk.stream
	if c.grpc {
		binary.BigEndian.PutUint32(buf[1:5], uint32(len(buf)-5))
		if err := wk.conn.roundTrip(s, path, "application/grpc", true, buf); err != nil {
			return nil, err
		}
		return grpcAnswer(method, s)
	}
	if err := wk.conn.roundTrip(s, path, "application/proto", false, buf); err != nil {
		return nil, err
	}
	return connectAnswer(method, s)
}

// connectAnswer reads a Connect unary answer: a binary message with status 200, or a
// JSON error body ({"code", "message"}) with another status.
func connectAnswer(method string, s *leanStream) ([]byte, error) {
	if s.status != 200 {
		var e struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(s.body, &e); err != nil || e.Code == "" {
			return nil, fmt.Errorf("%s: HTTP %d, content-type %q, body %q", method, s.status, s.contentType, s.body)
		}
		return nil, fmt.Errorf("%s: %s: %s", method, e.Code, e.Message)
	}
	if s.contentType != "application/proto" || (s.encoding != "" && s.encoding != "identity") {
		return nil, fmt.Errorf("%s: answer of content-type %q, content-encoding %q, not uncompressed application/proto", method, s.contentType, s.encoding)
	}
	return s.body, nil
}

// grpcAnswer reads a gRPC answer: status 200, one length-prefixed uncompressed message,
// then grpc-status 0 in the trailers; another grpc-status is the server's error.
func grpcAnswer(method string, s *leanStream) ([]byte, error) {
	if s.status != 200 {
		return nil, fmt.Errorf("%s: HTTP %d, content-type %q, body %q", method, s.status, s.contentType, s.body)
	}
	if s.grpcStatus == "" {
		return nil, fmt.Errorf("%s: the answer has no grpc-status", method)
	}
	if s.grpcStatus != "0" {
		code, err := strconv.ParseUint(s.grpcStatus, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s: grpc-status %q", method, s.grpcStatus)
		}
		msg, err := url.PathUnescape(s.grpcMessage)
		if err != nil {
			msg = s.grpcMessage
		}
		return nil, fmt.Errorf("%s: %s: %s", method, connect.Code(code), msg)
	}
	b := s.body
	if len(b) < 5 || b[0] != 0 || int(binary.BigEndian.Uint32(b[1:5])) != len(b)-5 {
		return nil, fmt.Errorf("%s: the answer is not one uncompressed length-prefixed message (%d bytes)", method, len(b))
	}
	return b[5:], nil
}

// wireError is a malformed answer.
func wireError(method string, n int) error {
	return fmt.Errorf("%s: malformed answer: %v", method, protowire.ParseError(n))
}

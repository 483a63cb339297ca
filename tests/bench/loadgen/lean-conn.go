package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The receive windows this client grants: large enough that a stream never waits for a
// WINDOW_UPDATE, and the connection gets one only after half a gigabyte has arrived.
const (
	streamRecvWindow = 1 << 30
	connRecvWindow   = 1 << 30
	defaultWindow    = 65535 // RFC 9113 §6.9.2, until the server's SETTINGS say otherwise
)

// leanConn is one cleartext HTTP/2 connection (prior knowledge), written directly with
// x/net's Framer and hpack: requests are written by their callers under wmu, and one
// reader goroutine reads every frame and hands each stream's answer to its caller.
//
// A solo connection has one caller and no reader goroutine: the caller reads the frames
// itself, from the end of its request until its own stream ends, and handles every other
// frame (SETTINGS, PING, WINDOW_UPDATE, GOAWAY) as the reader would. Between calls nobody
// reads; what the server sent meanwhile is read at the start of the next answer. It
// saves the two goroutine wake-ups a shared connection costs per call (the reader's when
// the answer arrives, then the caller's). It assumes no two calls at once.
//
// The server's SETTINGS_MAX_CONCURRENT_STREAMS is not waited on: a stream past it is
// refused (RST_STREAM), which fails the run with that reason.
//
// Locks: wmu guards what is written (the framer's write side, the hpack encoder, stream
// ids, send windows); mu guards the map of open streams and err. wmu may be held while
// taking mu, never the other way round.
type leanConn struct {
	nc        net.Conn
	authority string
	solo      bool

	// queued counts callers waiting for wmu: while one waits, a caller leaves its frames
	// in bw for the last of them to flush, so concurrent calls share one write(2).
	queued     atomic.Int32
	wmu        sync.Mutex
	windowCond *sync.Cond // on wmu: a send window grew, or the connection failed
	bw         *bufio.Writer
	fr         *http2.Framer
	hbuf       bytes.Buffer
	henc       *hpack.Encoder
	nextID     uint32
	sendWindow int64  // the connection's
	peerWindow int64  // the server's SETTINGS_INITIAL_WINDOW_SIZE: a new stream's send window
	maxFrame   uint32 // the server's SETTINGS_MAX_FRAME_SIZE

	// DATA bytes received that the connection window has not been given back; only
	// the goroutine reading frames touches it.
	unacked uint32

	mu      sync.Mutex
	streams map[uint32]*leanStream
	err     error // set once when the connection fails; every open and later call gets it
}

// leanStream is one call's stream: the caller fills it in and waits on done; the reader
// records the answer's headers, body and trailers, then sends on done once.
type leanStream struct {
	id         uint32
	sendWindow int64 // under wmu
	done       chan error

	// Written by the reader before done, read by the caller after it.
	status      int
	contentType string
	encoding    string
	gotHeaders  bool
	grpcStatus  string
	grpcMessage string
	body        []byte
}

func newLeanStream() *leanStream { return &leanStream{done: make(chan error, 1)} }

// dialLean opens a connection to base (http://host:port), sends the preface, its SETTINGS
// and a connection WINDOW_UPDATE, and starts the reader unless the connection is solo
// (one caller, who reads its own answers).
func dialLean(base string, solo bool) (*leanConn, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("--url %s: the lean client speaks cleartext HTTP/2 only (http://)", base)
	}
	nc, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if tcp, ok := nc.(*net.TCPConn); ok {
		_ = tcp.SetNoDelay(true)
	}
	c := &leanConn{
		nc:         nc,
		authority:  u.Host,
		solo:       solo,
		bw:         bufio.NewWriterSize(nc, 64<<10),
		nextID:     1,
		sendWindow: defaultWindow,
		peerWindow: defaultWindow,
		maxFrame:   16384,
		streams:    make(map[uint32]*leanStream),
	}
	c.windowCond = sync.NewCond(&c.wmu)
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.fr = http2.NewFramer(c.bw, bufio.NewReaderSize(nc, 64<<10))
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	c.fr.SetReuseFrames()
	if _, err := c.bw.WriteString(http2.ClientPreface); err != nil {
		nc.Close()
		return nil, err
	}
	err = c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamRecvWindow},
	)
	if err == nil {
		err = c.fr.WriteWindowUpdate(0, connRecvWindow-defaultWindow)
	}
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	if !solo {
		go c.readLoop()
	}
	return c, nil
}

// roundTrip sends one POST to path with the given extra headers and body, and waits
// until the reader has the whole answer in s (or the stream or connection failed). On a
// solo connection the caller is the reader: it reads frames until its stream ends.
func (c *leanConn) roundTrip(s *leanStream, path, contentType string, grpc bool, body []byte) error {
	c.queued.Add(1)
	c.wmu.Lock()
	c.queued.Add(-1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		c.wmu.Unlock()
		return err
	}
	s.id = c.nextID
	c.nextID += 2
	s.sendWindow = c.peerWindow
	s.status, s.contentType, s.encoding, s.gotHeaders = 0, "", "", false
	s.grpcStatus, s.grpcMessage, s.body = "", "", s.body[:0]
	c.streams[s.id] = s
	c.mu.Unlock()

	c.hbuf.Reset()
	c.header(":method", "POST")
	c.header(":scheme", "http")
	c.header(":authority", c.authority)
	c.header(":path", path)
	c.header("content-type", contentType)
	if grpc {
		c.header("te", "trailers")
	} else {
		c.header("connect-protocol-version", "1")
	}
	c.header("user-agent", "entdb-bench-loadgen-lean")
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID:      s.id,
		BlockFragment: c.hbuf.Bytes(),
		EndHeaders:    true,
	})
	for err == nil {
		// Send what the smaller of the two send windows allows, one frame at a time.
		n := min(int64(len(body)), int64(c.maxFrame), c.sendWindow, s.sendWindow)
		if n <= 0 && len(body) > 0 {
			if err = c.bw.Flush(); err != nil {
				break
			}
			if c.solo {
				// No reader to wait for: read the server's frames here until a window
				// grows. wmu is released, as the reader does not hold it either.
				c.wmu.Unlock()
				err = c.readFrame()
				c.wmu.Lock()
			} else {
				c.windowCond.Wait()
				err = c.failed()
			}
			if err != nil {
				break
			}
			if c.stream(s.id) == nil {
				break // answered (an error, say) before its body was sent: nothing more to send
			}
			continue
		}
		c.sendWindow -= n
		s.sendWindow -= n
		last := int(n) == len(body)
		err = c.fr.WriteData(s.id, last, body[:n])
		body = body[n:]
		if last {
			break
		}
	}
	if err == nil && c.queued.Load() == 0 {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.fail(fmt.Errorf("writing a request: %w", err))
	}
	if c.solo {
		for {
			select {
			case err := <-s.done:
				return err
			default:
			}
			// A failure ends every open stream, s included: the next turn returns it.
			_ = c.readFrame()
		}
	}
	return <-s.done
}

func (c *leanConn) header(name, value string) {
	_ = c.henc.WriteField(hpack.HeaderField{Name: name, Value: value})
}

func (c *leanConn) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// fail closes the connection and ends every open stream with err (the first error wins).
func (c *leanConn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	err = c.err
	open := c.streams
	c.streams = map[uint32]*leanStream{}
	c.mu.Unlock()
	_ = c.nc.Close()
	for _, s := range open {
		s.done <- err
	}
	c.wmu.Lock()
	c.windowCond.Broadcast()
	c.wmu.Unlock()
}

// close ends the connection; calls still open fail.
func (c *leanConn) close() { c.fail(errors.New("connection closed")) }

// end removes a finished stream and wakes its caller.
func (c *leanConn) end(s *leanStream, err error) {
	c.mu.Lock()
	_, open := c.streams[s.id]
	delete(c.streams, s.id)
	c.mu.Unlock()
	if open {
		s.done <- err
	}
}

func (c *leanConn) stream(id uint32) *leanStream {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streams[id]
}

// readLoop reads every frame until the connection fails.
func (c *leanConn) readLoop() {
	for c.readFrame() == nil {
	}
}

// readFrame reads one frame and acts on it: answering SETTINGS and PING, granting
// connection window back, and dispatching headers and data by stream id. It returns an
// error only when the connection failed (it has then ended every open stream). One
// goroutine at a time reads: the reader, or a solo connection's caller.
func (c *leanConn) readFrame() error {
	f, err := c.fr.ReadFrame()
	if err != nil {
		if err == io.EOF {
			err = errors.New("the server closed the connection")
		}
		err = fmt.Errorf("reading: %w", err)
		c.fail(err)
		return err
	}
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		s := c.stream(f.StreamID)
		if s == nil {
			return nil
		}
		if err := s.headers(f); err != nil {
			c.end(s, err)
		} else if f.StreamEnded() {
			c.end(s, nil)
		}
	case *http2.DataFrame:
		if c.unacked += f.Length; c.unacked >= connRecvWindow/2 {
			n := c.unacked
			c.write(func() error { return c.fr.WriteWindowUpdate(0, n) })
			c.unacked = 0
		}
		s := c.stream(f.StreamID)
		if s == nil {
			return nil
		}
		s.body = append(s.body, f.Data()...)
		if f.StreamEnded() {
			c.end(s, nil)
		}
	case *http2.RSTStreamFrame:
		if s := c.stream(f.StreamID); s != nil {
			c.end(s, fmt.Errorf("the server reset stream %d: %v", f.StreamID, f.ErrCode))
		}
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		c.wmu.Lock()
		_ = f.ForeachSetting(func(s http2.Setting) error {
			switch s.ID {
			case http2.SettingInitialWindowSize:
				delta := int64(s.Val) - c.peerWindow
				c.peerWindow = int64(s.Val)
				c.mu.Lock()
				for _, st := range c.streams {
					st.sendWindow += delta
				}
				c.mu.Unlock()
			case http2.SettingMaxFrameSize:
				c.maxFrame = s.Val
			case http2.SettingHeaderTableSize:
				c.henc.SetMaxDynamicTableSizeLimit(s.Val)
			}
			return nil
		})
		err := c.fr.WriteSettingsAck()
		if err == nil {
			err = c.bw.Flush()
		}
		c.windowCond.Broadcast()
		c.wmu.Unlock()
		if err != nil {
			c.fail(err)
			return err
		}
	case *http2.WindowUpdateFrame:
		var s *leanStream
		if f.StreamID != 0 {
			if s = c.stream(f.StreamID); s == nil {
				return nil
			}
		}
		c.wmu.Lock()
		if s == nil {
			c.sendWindow += int64(f.Increment)
		} else {
			s.sendWindow += int64(f.Increment)
		}
		c.windowCond.Broadcast()
		c.wmu.Unlock()
	case *http2.PingFrame:
		if !f.IsAck() {
			data := f.Data
			c.write(func() error { return c.fr.WritePing(true, data) })
		}
	case *http2.GoAwayFrame:
		err := fmt.Errorf("the server sent GOAWAY (%v): %q", f.ErrCode, f.DebugData())
		c.fail(err)
		return err
	}
	return nil
}

// write runs one frame write under wmu and flushes it; a failure fails the connection.
func (c *leanConn) write(frame func() error) {
	c.wmu.Lock()
	err := frame()
	if err == nil {
		err = c.bw.Flush()
	}
	c.wmu.Unlock()
	if err != nil {
		c.fail(err)
	}
}

// headers records a HEADERS frame: the answer's headers first, then (with END_STREAM)
// its trailers. A gRPC answer without a body may carry its status in the headers alone.
func (s *leanStream) headers(f *http2.MetaHeadersFrame) error {
	if f.Truncated {
		return fmt.Errorf("stream %d: header list too large", s.id)
	}
	if !s.gotHeaders {
		s.gotHeaders = true
		status, err := strconv.Atoi(f.PseudoValue("status"))
		if err != nil {
			return fmt.Errorf("stream %d: bad :status %q", s.id, f.PseudoValue("status"))
		}
		s.status = status
	}
	// Names arrive lower-case (RFC 9113 §8.2.1); the framer refuses others.
	for _, hf := range f.RegularFields() {
		switch hf.Name {
		case "content-type":
			s.contentType = hf.Value
		case "content-encoding":
			s.encoding = hf.Value
		case "grpc-status":
			s.grpcStatus = hf.Value
		case "grpc-message":
			s.grpcMessage = hf.Value
		}
	}
	return nil
}

// Package hostiletest plays the clients a receiver must survive: raw
// HTTP/2 gRPC streams that send headers and no data, or declare a large
// message and stall; HTTP bodies trickled a byte at a time; connections
// opened and left idle. It is for tests of receiver:otlp and of the
// binary, on loopback sockets, and bounds every wait by Wait.
package hostiletest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Wait bounds every wait of this package.
const Wait = 30 * time.Second

// LogsExport is the gRPC method of OTLP logs.
const LogsExport = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"

// GRPCConn is one HTTP/2 connection speaking just enough gRPC to open
// Export streams and send exactly the bytes a test chooses. It tracks the
// flow-control windows the server grants (what it agrees to buffer) and
// the answers it sends. Safe for concurrent use.
type GRPCConn struct {
	t    testing.TB
	conn net.Conn

	wmu  sync.Mutex // the framer's writes and the header encoder
	fr   *http2.Framer
	henc *hpack.Encoder
	hbuf bytes.Buffer
	next uint32 // next stream id

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced whenever anything below changes
	settings    map[http2.SettingID]uint32
	gotSettings bool
	initial     int64            // the server's SETTINGS_INITIAL_WINDOW_SIZE
	connWindow  int64            // what the connection may still send
	sent        map[uint32]int64 // DATA bytes sent per stream
	granted     map[uint32]int64 // WINDOW_UPDATE increments per stream
	answers     map[uint32]Answer
	pings       int
	readErr     error
}

// Answer is how the server ended a stream.
type Answer struct {
	Status  int    // grpc-status; -1 if the stream was reset
	Message string // grpc-message
	Reset   http2.ErrCode
}

// DialGRPC opens an h2c connection to addr and completes the HTTP/2
// handshake. The connection is closed when the test ends.
func DialGRPC(t testing.TB, addr string) *GRPCConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, Wait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &GRPCConn{
		t: t, conn: conn, next: 1,
		changed:    make(chan struct{}),
		settings:   map[http2.SettingID]uint32{},
		initial:    65535,
		connWindow: 65535,
		sent:       map[uint32]int64{},
		granted:    map[uint32]int64{},
		answers:    map[uint32]Answer{},
	}
	c.fr = http2.NewFramer(conn, bufio.NewReader(conn))
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.henc = hpack.NewEncoder(&c.hbuf)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	// A large receive window: the server's answers never wait on us.
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); c.readLoop() }()
	t.Cleanup(func() { _ = conn.Close(); <-done })
	c.WaitFor("the server's SETTINGS", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.gotSettings
	})
	return c
}

func (c *GRPCConn) readLoop() {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.update(func() { c.readErr = err })
			return
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			c.update(func() {
				_ = f.ForeachSetting(func(s http2.Setting) error {
					c.settings[s.ID] = s.Val
					if s.ID == http2.SettingInitialWindowSize {
						c.initial = int64(s.Val)
					}
					return nil
				})
				c.gotSettings = true
			})
			c.write(func() error { return c.fr.WriteSettingsAck() })
		case *http2.WindowUpdateFrame:
			c.update(func() {
				if f.StreamID == 0 {
					c.connWindow += int64(f.Increment)
				} else {
					c.granted[f.StreamID] += int64(f.Increment)
				}
			})
		case *http2.MetaHeadersFrame:
			if st := headerValue(f, "grpc-status"); st != "" {
				code, _ := strconv.Atoi(st)
				msg := headerValue(f, "grpc-message")
				c.update(func() { c.answers[f.StreamID] = Answer{Status: code, Message: msg} })
			}
		case *http2.RSTStreamFrame:
			c.update(func() {
				if _, ok := c.answers[f.StreamID]; !ok {
					c.answers[f.StreamID] = Answer{Status: -1, Reset: f.ErrCode}
				}
			})
		case *http2.PingFrame:
			if f.IsAck() {
				c.update(func() { c.pings++ })
			} else {
				data := f.Data
				c.write(func() error { return c.fr.WritePing(true, data) })
			}
		case *http2.GoAwayFrame:
			// The connection ends; the read error follows.
		}
	}
}

func headerValue(f *http2.MetaHeadersFrame, name string) string {
	for _, hf := range f.Fields {
		if hf.Name == name {
			return hf.Value
		}
	}
	return ""
}

// update changes the tracked state under the lock and wakes the waiters.
func (c *GRPCConn) update(fn func()) {
	c.mu.Lock()
	fn()
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

// write runs a framer write; errors (the server closed the connection)
// show up as the read loop's error.
func (c *GRPCConn) write(fn func() error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = fn()
}

// WaitFor waits until cond holds, failing the test after Wait. cond is
// checked again after every change the connection sees; it may call the
// connection's accessors (Granted, Answer, ...).
func (c *GRPCConn) WaitFor(what string, cond func() bool) {
	c.t.Helper()
	timer := time.NewTimer(Wait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		ch, rerr := c.changed, c.readErr
		c.mu.Unlock()
		if cond() { // after taking ch: a change from now on closes it
			return
		}
		if rerr != nil {
			c.t.Fatalf("waiting for %s: connection ended: %v", what, rerr)
		}
		select {
		case <-ch:
		case <-timer.C:
			c.t.Fatalf("no %s within %s", what, Wait)
		}
	}
}

// MaxStreams is the server's SETTINGS_MAX_CONCURRENT_STREAMS (0: none).
func (c *GRPCConn) MaxStreams() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.settings[http2.SettingMaxConcurrentStreams]
}

// InitialWindow is the server's SETTINGS_INITIAL_WINDOW_SIZE.
func (c *GRPCConn) InitialWindow() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.initial
}

// Open starts an Export stream of method: HEADERS without END_STREAM,
// and returns its id.
func (c *GRPCConn) Open(method string) uint32 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	id := c.next
	c.next += 2
	c.hbuf.Reset()
	for _, hf := range []hpack.HeaderField{
		{Name: ":method", Value: "POST"},
		{Name: ":scheme", Value: "http"},
		{Name: ":path", Value: method},
		{Name: ":authority", Value: c.conn.RemoteAddr().String()},
		{Name: "content-type", Value: "application/grpc"},
		{Name: "te", Value: "trailers"},
	} {
		_ = c.henc.WriteField(hf)
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(), EndHeaders: true}); err != nil {
		c.t.Fatalf("open stream %d: %v", id, err)
	}
	return id
}

// SendPrefix sends the 5-byte gRPC message header declaring a message of
// length bytes (uncompressed).
func (c *GRPCConn) SendPrefix(id uint32, length uint32) {
	var p [5]byte
	binary.BigEndian.PutUint32(p[1:], length)
	c.sendData(id, p[:], false)
}

// SendData sends b on stream id, which must fit in the windows.
func (c *GRPCConn) SendData(id uint32, b []byte, end bool) { c.sendData(id, b, end) }

func (c *GRPCConn) sendData(id uint32, b []byte, end bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for len(b) > 0 || end {
		n := min(len(b), 16<<10)
		last := end && n == len(b)
		if err := c.fr.WriteData(id, last, b[:n]); err != nil {
			c.t.Fatalf("stream %d: write data: %v", id, err)
		}
		c.update(func() { c.sent[id] += int64(n); c.connWindow -= int64(n) })
		b = b[n:]
		if last {
			return
		}
	}
}

// Window is what stream id may still send: the initial window plus the
// server's grants, minus what was sent, and never more than the
// connection's window.
func (c *GRPCConn) Window(id uint32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.windowLocked(id)
}

func (c *GRPCConn) windowLocked(id uint32) int64 {
	return min(c.initial+c.granted[id]-c.sent[id], c.connWindow)
}

// Granted is the total of the server's WINDOW_UPDATEs for stream id: what
// it agreed to buffer beyond the initial window.
func (c *GRPCConn) Granted(id uint32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.granted[id]
}

// Fill sends filler bytes on stream id as long as flow control allows, up
// to max bytes in all (counting what was sent before), and returns the
// total sent on the stream.
func (c *GRPCConn) Fill(id uint32, max int64) int64 {
	filler := make([]byte, 16<<10)
	for {
		c.mu.Lock()
		n := min(c.windowLocked(id), max-c.sent[id], int64(len(filler)))
		total := c.sent[id]
		c.mu.Unlock()
		if n <= 0 {
			return total
		}
		c.sendData(id, filler[:n], false)
	}
}

// Sent is the DATA bytes sent on stream id.
func (c *GRPCConn) Sent(id uint32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[id]
}

// Ping sends a PING and waits for its ack: frames the server wrote before
// it are read by then.
func (c *GRPCConn) Ping() {
	c.t.Helper()
	c.mu.Lock()
	want := c.pings + 1
	c.mu.Unlock()
	c.write(func() error { return c.fr.WritePing(false, [8]byte{1}) })
	c.WaitFor("the PING ack", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.pings >= want
	})
}

// Answer returns how the server ended stream id, if it did.
func (c *GRPCConn) Answer(id uint32) (Answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.answers[id]
	return a, ok
}

// WaitAnswer waits for the server to end stream id.
func (c *GRPCConn) WaitAnswer(id uint32) Answer {
	c.t.Helper()
	c.WaitFor(fmt.Sprintf("an answer on stream %d", id), func() bool { _, ok := c.Answer(id); return ok })
	a, _ := c.Answer(id)
	return a
}

// Trickler is an HTTP/1.1 request whose body is sent one byte at a time.
type Trickler struct {
	conn net.Conn
	stop chan struct{}
	done chan struct{}
	resp chan TrickleResult
}

// TrickleResult is the answer a trickled request got, or the error that
// ended it.
type TrickleResult struct {
	Status     int
	RetryAfter string
	Body       string
	Err        error
}

// Trickle posts to path on addr with a Content-Length of length and sends
// its body one byte every interval, until the server answers or the test
// ends. The answer arrives on Result.
func Trickle(t testing.TB, addr, path string, length int, interval time.Duration) *Trickler {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, Wait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	tr := &Trickler{conn: conn, stop: make(chan struct{}), done: make(chan struct{}), resp: make(chan TrickleResult, 1)}
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n", path, addr, length)
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	go func() { // the body, a byte at a time
		defer close(tr.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for range length {
			select {
			case <-tr.stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{0}); err != nil {
				return
			}
		}
	}()
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(2 * Wait))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			tr.resp <- TrickleResult{Err: err}
			return
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		tr.resp <- TrickleResult{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: string(b)}
	}()
	t.Cleanup(tr.Close)
	return tr
}

// Result returns the channel the answer arrives on.
func (tr *Trickler) Result() <-chan TrickleResult { return tr.resp }

// Close stops the trickle and closes the connection.
func (tr *Trickler) Close() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	_ = tr.conn.Close()
	<-tr.done
}

// GzipBomb returns n bytes of zeros, gzipped: about n/1000 bytes.
func GzipBomb(n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 64<<10)
	for n > 0 {
		k := min(n, len(zeros))
		_, _ = zw.Write(zeros[:k])
		n -= k
	}
	_ = zw.Close()
	return buf.Bytes()
}

// StalledPost is an HTTP/1.1 request whose body stops before its end: the
// bytes given are sent, the connection stays open, nothing more comes.
type StalledPost struct {
	conn net.Conn
	resp chan TrickleResult
}

// PostStalled posts head-of-body to path on addr (chunked, with the given
// Content-Encoding) and leaves the request unfinished.
func PostStalled(t testing.TB, addr, path, encoding string, body []byte) *StalledPost {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, Wait)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	sp := &StalledPost{conn: conn, resp: make(chan TrickleResult, 1)}
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n", path, addr)
	if encoding != "" {
		fmt.Fprintf(&b, "Content-Encoding: %s\r\n", encoding)
	}
	fmt.Fprintf(&b, "\r\n%x\r\n", len(body))
	b.Write(body)
	b.WriteString("\r\n") // the chunk ends; the last chunk never comes
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(2 * Wait))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			sp.resp <- TrickleResult{Err: err}
			return
		}
		rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		sp.resp <- TrickleResult{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Body: string(rb)}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return sp
}

// Result returns the channel the answer arrives on.
func (sp *StalledPost) Result() <-chan TrickleResult { return sp.resp }

// Close closes the connection.
func (sp *StalledPost) Close() { _ = sp.conn.Close() }

// IdleConns opens n TCP connections to addr that send nothing. They are
// closed when the test ends. Dial errors are returned, not fatal: a server
// at its connection cap may refuse.
func IdleConns(t testing.TB, addr string, n int) ([]net.Conn, error) {
	t.Helper()
	var conns []net.Conn
	var errs []error
	for range n {
		c, err := net.DialTimeout("tcp", addr, Wait)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return conns, errors.Join(errs...)
}

// Closed reports whether the server closed c: a read sees EOF or a reset
// within d. A connection the server keeps open reports false after d.
func Closed(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	_, err := c.Read(b[:])
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

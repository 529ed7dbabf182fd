package otlp

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ackflow/ackflow/engine"
)

// Connections: both listeners are wrapped in a connSet, which
//
//   - caps the connections the listener keeps open (max_connections, and
//     the process's share of file descriptors, see processConns): at the
//     cap a new connection first closes the longest-idle connection (one
//     with no request in progress, as nginx reuses keep-alive
//     connections); if every connection is busy, the new one is closed at
//     once. Either way it is counted (connections_closed_total), and an
//     idle flood cannot lock new clients out;
//   - remembers the connections, so that a drain can close those that
//     carry no request. Both servers otherwise wait for them: net/http
//     counts a connection that never sent a request as active for five
//     seconds, and grpc-go waits for connections still in their handshake
//     for up to its connection timeout;
//   - gives each gRPC connection a read turn (see trackedConn.takeTurn).
type connSet struct {
	net.Listener
	pr      protocol
	max     int // max_connections
	metrics *metrics

	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

func trackConns(l net.Listener, pr protocol, maxConns int, m *metrics) *connSet {
	s := &connSet{Listener: l, pr: pr, max: maxConns, metrics: m, conns: make(map[*trackedConn]struct{})}
	processConns.mu.Lock()
	processConns.sets[s] = struct{}{}
	processConns.mu.Unlock()
	return s
}

// Close implements net.Listener; the set no longer counts for the
// process-wide eviction.
func (s *connSet) Close() error {
	processConns.mu.Lock()
	delete(processConns.sets, s)
	processConns.mu.Unlock()
	return s.Listener.Close()
}

// processConns counts the connections open on every receiver:otlp
// listener of the process (pipeline copies and other receivers included),
// against half of the process's file descriptor limit: whatever the
// configured max_connections, connections cannot take the descriptors the
// admin server, the exporters and the other listeners need. At that limit
// the idlest connection of any listener is evicted, so that idle
// connections on one listener cannot lock another's clients out. The
// check and the count are not one atomic step, so concurrent accepts may
// overshoot by one connection each.
var processConns = struct {
	once  sync.Once
	limit int64 // 0: unknown, no process-wide cap
	n     atomic.Int64
	mu    sync.Mutex
	sets  map[*connSet]struct{} // the listeners open
}{sets: make(map[*connSet]struct{})}

// fdShare is the part of the file descriptor limit receiver connections
// may take (1/fdShare).
const fdShare = 2

func processConnLimit() int64 {
	processConns.once.Do(func() {
		if n, ok := fileLimit(); ok {
			processConns.limit = int64(n / fdShare)
		}
	})
	return processConns.limit
}

// Accept implements net.Listener. Connections over the cap never reach
// the server: they are closed here and Accept waits for the next one.
func (s *connSet) Accept() (net.Conn, error) {
	for {
		c, err := s.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if !s.makeRoom() {
			// Counted first: the client that sees the close finds it in
			// the metrics.
			s.metrics.connsClosed[s.pr][connLimit].Inc()
			_ = c.Close()
			continue
		}
		tc := &trackedConn{Conn: c, set: s, turn: make(chan struct{}, 1), closed: make(chan struct{})}
		tc.addr = connAddr{Addr: c.RemoteAddr(), c: tc}
		tc.fresh.Store(true)
		tc.idleSince.Store(time.Now().UnixNano())
		s.mu.Lock()
		s.conns[tc] = struct{}{}
		s.mu.Unlock()
		processConns.n.Add(1)
		s.metrics.conns[s.pr].Add(1)
		return tc, nil
	}
}

// makeRoom closes idle connections until a new one fits under the
// listener's cap (evicting its own) and the process's (evicting any
// listener's); false if no connection is idle (the new one must be
// refused).
func (s *connSet) makeRoom() bool {
	for {
		var victim *trackedConn
		if s.max > 0 && s.len() >= s.max {
			victim, _ = s.idlest()
		} else if lim := processConnLimit(); lim > 0 && processConns.n.Load() >= lim {
			victim = idlestInProcess()
		} else {
			return true
		}
		if victim == nil {
			return false
		}
		_ = victim.Close()
		victim.set.metrics.connsClosed[victim.set.pr][connEvicted].Inc()
	}
}

func (s *connSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// idlest returns the connection of s idle for the longest time (and since
// when), or nil.
func (s *connSet) idlest() (*trackedConn, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var victim *trackedConn
	var since int64
	for c := range s.conns {
		if c.busy.Load() != 0 {
			continue
		}
		if t := c.idleSince.Load(); victim == nil || t < since {
			victim, since = c, t
		}
	}
	return victim, since
}

// idlestInProcess returns the connection idle for the longest time on any
// receiver listener of the process, or nil.
func idlestInProcess() *trackedConn {
	processConns.mu.Lock()
	sets := make([]*connSet, 0, len(processConns.sets))
	for s := range processConns.sets {
		sets = append(sets, s)
	}
	processConns.mu.Unlock()
	var victim *trackedConn
	var since int64
	for _, s := range sets {
		if c, t := s.idlest(); c != nil && (victim == nil || t < since) {
			victim, since = c, t
		}
	}
	return victim
}

// closeAll closes every connection still open.
func (s *connSet) closeAll() { s.close(func(*trackedConn) bool { return true }) }

// closeSilent closes the connections on which the client never sent a
// byte: at a drain they can carry no request the receiver would admit.
func (s *connSet) closeSilent() { s.close(func(c *trackedConn) bool { return !c.heard.Load() }) }

// closeFresh closes the HTTP connections that never started a request: at
// a drain no new request is admitted on them anyway.
func (s *connSet) closeFresh() { s.close(func(c *trackedConn) bool { return c.fresh.Load() }) }

func (s *connSet) close(which func(*trackedConn) bool) {
	s.mu.Lock()
	var conns []*trackedConn
	for c := range s.conns {
		if which(c) {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// trackHTTP is the HTTP server's ConnState hook: a connection is busy
// while a request is in progress on it (HTTP/2: while a stream is open).
func (s *connSet) trackHTTP(c net.Conn, st http.ConnState) {
	tc := unwrapConn(c)
	if tc == nil {
		return
	}
	if st != http.StateNew {
		tc.fresh.Store(false)
	}
	switch st {
	case http.StateActive:
		tc.busy.Store(1)
	case http.StateNew, http.StateIdle:
		tc.busy.Store(0)
		tc.idleSince.Store(time.Now().UnixNano())
	}
}

// unwrapConn finds the tracked connection under c (a *tls.Conn for HTTPS).
func unwrapConn(c net.Conn) *trackedConn {
	for c != nil {
		switch t := c.(type) {
		case *trackedConn:
			return t
		case interface{ NetConn() net.Conn }:
			c = t.NetConn()
		default:
			return nil
		}
	}
	return nil
}

type trackedConn struct {
	net.Conn
	set       *connSet
	addr      connAddr
	once      sync.Once
	heard     atomic.Bool  // the client sent at least one byte
	fresh     atomic.Bool  // HTTP: no request started yet
	busy      atomic.Int32 // requests in progress (gRPC: a count; HTTP: 0 or 1)
	idleSince atomic.Int64 // unix nanoseconds of the last time busy went to 0
	turn      chan struct{}
	closed    chan struct{} // closed by Close
	charge    turnCharge
}

// turnCharge charges the bytes a gRPC connection receives during a read
// turn to max_in_flight_bytes, as they arrive: they are, but for the other
// streams' windows, the body being read, which grpc-go buffers whole
// before the handler sees it. When the next bytes would exceed the budget,
// over is closed (the handler gives up on the body) and the connection's
// reads wait until the turn ends: its bytes are not read from the socket
// meanwhile, so what the receiver holds stays within the budget, give or
// take one read (grpc-go reads up to otlpgrpc.ReadBufferSize at a time).
type turnCharge struct {
	mu    sync.Mutex
	rsv   *reservation  // nil outside a turn
	over  chan struct{} // closed when the turn's bytes would exceed the budget
	ended chan struct{} // closed when the turn ends
}

// start begins charging the connection's bytes to rsv; the returned
// channel is closed if they would exceed the budget.
func (t *turnCharge) start(rsv *reservation) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rsv, t.over, t.ended = rsv, make(chan struct{}), make(chan struct{})
	return t.over
}

// end releases what the turn charged and lets a waiting read go on.
func (t *turnCharge) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rsv == nil {
		return
	}
	t.rsv.release()
	close(t.ended)
	t.rsv = nil
}

// add charges n bytes just read.
func (t *turnCharge) add(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rsv == nil || closed(t.over) {
		return
	}
	if !t.rsv.grow(int64(n)) {
		close(t.over)
	}
}

// blocked returns a channel to wait on before reading more, or nil.
func (t *turnCharge) blocked() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.rsv != nil && closed(t.over) {
		return t.ended
	}
	return nil
}

// connAddr is the remote address of a tracked connection. It carries the
// connection, so that a gRPC handler finds its connection from its peer
// address (peer.FromContext), over TLS or not.
type connAddr struct {
	net.Addr
	c *trackedConn
}

// connOf returns the tracked connection of a peer address, or nil.
func connOf(a net.Addr) *trackedConn {
	if ca, ok := a.(connAddr); ok {
		return ca.c
	}
	return nil
}

// RemoteAddr implements net.Conn.
func (c *trackedConn) RemoteAddr() net.Addr { return c.addr }

// Read implements net.Conn. During a gRPC read turn the bytes are charged
// to max_in_flight_bytes (turnCharge).
func (c *trackedConn) Read(b []byte) (int, error) {
	if wait := c.charge.blocked(); wait != nil {
		select {
		case <-wait:
		case <-c.closed:
		}
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		if !c.heard.Load() {
			c.heard.Store(true)
		}
		c.charge.add(n)
	}
	return n, err
}

// Close implements net.Conn and forgets the connection.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		s := c.set
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		processConns.n.Add(-1)
		s.metrics.conns[s.pr].Add(-1)
		close(c.closed)
	})
	return c.Conn.Close()
}

// enter and leave bracket a gRPC request on the connection, which is idle
// (evictable) when none is in progress. Both accept a nil connection.
func (c *trackedConn) enter() {
	if c != nil {
		c.busy.Add(1)
	}
}

func (c *trackedConn) leave() {
	if c != nil && c.busy.Add(-1) == 0 {
		c.idleSince.Store(time.Now().UnixNano())
	}
}

// takeTurn waits until no other request of this gRPC connection is having
// its body read. grpc-go buffers a whole message before the handler gets
// it, and once a handler starts reading it opens the stream's flow-control
// window to the message's declared size; a stream whose body nobody reads
// stays limited to its initial window. One read at a time per connection
// therefore bounds what a connection can make the receiver buffer to one
// message (max_request_size) plus max_concurrent_streams stream windows,
// where concurrent reads would allow max_concurrent_streams whole messages.
// A connection's bytes arrive in order anyway, so reading its messages one
// after the other costs a busy connection little.
//
// During the turn the connection's bytes are charged to rsv (see
// turnCharge); the returned channel is closed when they would exceed the
// budget. The wait ends with the request's context, the shutdown deadline,
// or expired (errBodyTimeout); a nil connection (not from a connSet) never
// waits, and charges nothing.
func (c *trackedConn) takeTurn(ctx context.Context, aborted <-chan struct{}, expired <-chan time.Time, rsv *reservation) (over <-chan struct{}, err error) {
	if c == nil {
		return nil, nil
	}
	select {
	case c.turn <- struct{}{}:
		return c.charge.start(rsv), nil
	default:
	}
	select {
	case c.turn <- struct{}{}:
		return c.charge.start(rsv), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-aborted:
		return nil, engine.ErrAborted
	case <-expired:
		return nil, errBodyTimeout
	}
}

// endTurn releases what the turn charged and lets the connection's next
// request read its body.
func (c *trackedConn) endTurn() {
	if c != nil {
		c.charge.end()
		<-c.turn
	}
}

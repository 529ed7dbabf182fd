package otlp

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// connSet remembers the connections a listener accepted, so that a drain
// can close those that carry no request. Both servers otherwise wait for
// them: net/http counts a connection that never sent a request as active
// for five seconds, and grpc-go waits for connections still in their
// handshake for up to its connection timeout.
type connSet struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func trackConns(l net.Listener) *connSet {
	return &connSet{Listener: l, conns: make(map[net.Conn]struct{})}
}

// Accept implements net.Listener.
func (s *connSet) Accept() (net.Conn, error) {
	c, err := s.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, set: s}
	s.mu.Lock()
	s.conns[tc] = struct{}{}
	s.mu.Unlock()
	return tc, nil
}

// closeAll closes every connection still open.
func (s *connSet) closeAll() { s.close(func(*trackedConn) bool { return true }) }

// closeSilent closes the connections on which the client never sent a
// byte: at a drain they can carry no request the receiver would admit.
func (s *connSet) closeSilent() { s.close(func(c *trackedConn) bool { return !c.heard.Load() }) }

func (s *connSet) close(which func(*trackedConn) bool) {
	s.mu.Lock()
	var conns []*trackedConn
	for c := range s.conns {
		if tc := c.(*trackedConn); which(tc) {
			conns = append(conns, tc)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	set   *connSet
	once  sync.Once
	heard atomic.Bool // the client sent at least one byte
}

// Read implements net.Conn.
func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.heard.Load() {
		c.heard.Store(true)
	}
	return n, err
}

// Close implements net.Conn and forgets the connection.
func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.set.mu.Lock()
		delete(c.set.conns, c)
		c.set.mu.Unlock()
	})
	return c.Conn.Close()
}

// idleConns tracks the HTTP connections that have not started a request
// (http.StateNew), through the server's ConnState hook.
type idleConns struct {
	mu    sync.Mutex
	fresh map[net.Conn]struct{}
}

func (ic *idleConns) track(c net.Conn, st http.ConnState) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	if ic.fresh == nil {
		ic.fresh = make(map[net.Conn]struct{})
	}
	if st == http.StateNew {
		ic.fresh[c] = struct{}{}
	} else {
		delete(ic.fresh, c)
	}
}

// closeFresh closes the connections that never sent a request: at a drain
// no new request is admitted on them anyway.
func (ic *idleConns) closeFresh() {
	ic.mu.Lock()
	conns := make([]net.Conn, 0, len(ic.fresh))
	for c := range ic.fresh {
		conns = append(conns, c)
	}
	ic.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// drainQuiet is how long a keep-alive connection must have waited for its
// next request before the drain closes it. A client that sends again at
// once (a browser following the redirect after a form, a script in a loop,
// a page fetching its stylesheet) does so well within it; one that waits
// longer is a person reading a page, whose next click comes seconds later.
const drainQuiet = 100 * time.Millisecond

// drainLongest bounds the drain: what is still open after it is left to
// http.Server.Shutdown.
const drainLongest = 2 * time.Second

// A drain lets the server stop without losing a request that a client has
// just sent on a keep-alive connection.
//
// http.Server.Shutdown closes every idle HTTP/1 connection at once. When a
// client has written its next request on one of them a moment before, the
// request is lost: the client reads the end of the connection (EOF), and
// Go's HTTP client, like most scripts, does not send a POST again. Under socket activation this was the one request
// that could fail while the service restarted for an upgrade (seen in CI in
// TestUpgradeWithoutDowntime: 1 of 398, a booking).
//
// So stop first stops accepting (under systemd the port stays open and new
// connections wait for the next process), then answers every request with
// "Connection: close", which tells the client not to send on that connection
// again, and closes only connections that have waited drainQuiet for a
// request. A client sends on an idle connection the moment the drain closes
// it only when it has been quiet that long: the same small race that every
// HTTP/1.1 server's idle timeout has. HTTP/2 connections are
// left to Shutdown: its GOAWAY names the last request it will answer, so
// nothing is lost there.
type drain struct {
	on    atomic.Bool
	mu    sync.Mutex
	conns map[net.Conn]connWait
}

// connWait is an HTTP/1 connection's state: whether it waits for a request
// (new or idle) and since when.
type connWait struct {
	waiting bool
	since   time.Time
}

func newDrain() *drain {
	return &drain{conns: map[net.Conn]connWait{}}
}

// track is the server's ConnState hook.
func (d *drain) track(c net.Conn, state http.ConnState) {
	tc, isTLS := c.(*tls.Conn)
	// Asked after the handshake (the server reports StateNew before it),
	// so ConnectionState does not wait for one.
	if (state == http.StateActive || state == http.StateIdle) && isTLS && tc.ConnectionState().NegotiatedProtocol == "h2" {
		state = http.StateClosed // Shutdown's GOAWAY ends those
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch state {
	case http.StateNew:
		// A new plain connection that stays silent is a browser's
		// preconnect; a new TLS one may be in its handshake, which
		// Shutdown waits for.
		d.conns[c] = connWait{waiting: !isTLS, since: time.Now()}
	case http.StateIdle:
		d.conns[c] = connWait{waiting: true, since: time.Now()}
	case http.StateActive:
		d.conns[c] = connWait{}
	default: // closed or hijacked: no longer the server's
		delete(d.conns, c)
	}
}

// handler asks HTTP/1 clients not to reuse the connection once the drain
// has begun; the server then closes it after the response.
func (d *drain) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && d.on.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// stop ends srv, whose listener is ln: no new connections, the running
// requests answered, the keep-alive connections closed as said on drain.
// ctx bounds it all, like Shutdown's.
func (d *drain) stop(ctx context.Context, srv *http.Server, ln net.Listener) error {
	d.on.Store(true)
	ln.Close()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	giveUp := time.After(drainLongest)
wait:
	for d.closeQuiet() > 0 {
		select {
		case <-tick.C:
		case <-giveUp:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	return srv.Shutdown(ctx)
}

// closeQuiet closes the connections that have waited drainQuiet for a
// request, and says how many HTTP/1 connections are left open.
func (d *drain) closeQuiet() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for c, w := range d.conns {
		if w.waiting && time.Since(w.since) >= drainQuiet {
			c.Close()
			delete(d.conns, c)
		}
	}
	return len(d.conns)
}

// onceCloseListener lets the drain close the listener before Shutdown
// closes it again, without Shutdown reporting the second close as an error.
type onceCloseListener struct {
	net.Listener
	once sync.Once
	err  error
}

func (l *onceCloseListener) Close() error {
	l.once.Do(func() { l.err = l.Listener.Close() })
	return l.err
}

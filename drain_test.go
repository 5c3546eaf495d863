package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// restartTraffic restarts a server restarts times on one listening socket
// held open the whole time, as systemd holds booking.socket, while clients
// post forms on keep-alive connections with little or no pause. stop ends
// one server. It returns what the clients saw go wrong and how many
// requests each server answered.
//
// With secure, the server speaks TLS, and half the clients HTTP/2 (whose
// connections Shutdown's GOAWAY ends), the other half HTTP/1.1.
func restartTraffic(t testing.TB, restarts int, secure bool, stop func(context.Context, *http.Server, net.Listener, *drain) error) (failures []string, answered []int64) {
	t.Helper()
	var serverTLS, clientTLS *tls.Config
	if secure {
		// httptest's certificate, and a client that trusts it.
		ts := httptest.NewUnstartedServer(nil)
		ts.EnableHTTP2 = true
		ts.StartTLS()
		serverTLS = ts.TLS.Clone()
		serverTLS.NextProtos = nil // ServeTLS offers h2 and http/1.1
		clientTLS = ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		ts.Close()
	}
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	socket, err := held.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer socket.Close()
	base := "http://" + held.Addr().String()
	if secure {
		base = "https://" + held.Addr().String()
	}

	answered = make([]int64, restarts+1)
	start := func(n int) (*http.Server, net.Listener, *drain) {
		ln, err := net.FileListener(socket) // its own copy, as each process has
		if err != nil {
			t.Fatal(err)
		}
		ln = &onceCloseListener{Listener: ln}
		d := newDrain()
		srv := &http.Server{ConnState: d.track, Handler: d.handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil || r.PostForm.Get("n") == "" {
				http.Error(w, "no form", http.StatusBadRequest)
				return
			}
			atomic.AddInt64(&answered[n], 1)
			fmt.Fprintf(w, "server %d got %s", n, r.PostForm.Get("n"))
		}))}
		if secure {
			srv.TLSConfig = serverTLS
			go srv.ServeTLS(ln, "", "")
		} else {
			go srv.Serve(ln)
		}
		return srv, ln, d
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	done := make(chan struct{})
	for c := range 8 {
		wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			if secure {
				tr.TLSClientConfig = clientTLS.Clone()
				tr.ForceAttemptHTTP2 = c < 4
			}
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				n := fmt.Sprintf("%d-%d", c, i)
				res, err := client.PostForm(base+"/bookings", url.Values{"n": {n}})
				if err == nil {
					var body []byte
					body, err = io.ReadAll(res.Body)
					res.Body.Close()
					if err == nil && (res.StatusCode != 200 || !strings.HasSuffix(string(body), " got "+n)) {
						err = fmt.Errorf("%d %q", res.StatusCode, body)
					}
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				}
				// Some clients send again at once, some after a pause
				// shorter than drainQuiet.
				if c%2 == 1 {
					time.Sleep(time.Duration(rand.IntN(int(20 * time.Millisecond))))
				}
			}
		})
	}
	srv, ln, d := start(0)
	for n := 1; n <= restarts; n++ {
		time.Sleep(100 * time.Millisecond)
		if err := stop(t.Context(), srv, ln, d); err != nil {
			t.Errorf("stopping server %d: %v", n-1, err)
		}
		srv, ln, d = start(n)
	}
	time.Sleep(100 * time.Millisecond)
	close(done)
	wg.Wait()
	if err := stop(t.Context(), srv, ln, d); err != nil {
		t.Errorf("stopping server %d: %v", restarts, err)
	}
	return failures, answered
}

// stopByDrain and stopByShutdown are the two ways restartTraffic stops a
// server: the drain, as serve does, and http.Server.Shutdown alone.
func stopByDrain(ctx context.Context, srv *http.Server, ln net.Listener, d *drain) error {
	return d.stop(ctx, srv, ln)
}

func stopByShutdown(ctx context.Context, srv *http.Server, _ net.Listener, _ *drain) error {
	return srv.Shutdown(ctx)
}

// TestRestartLosesNoRequest restarts the server under traffic the way an
// upgrade does: not one request may fail, and every server answers some.
func TestRestartLosesNoRequest(t *testing.T) {
	// Each stop with HTTP/2 clients takes a second: Shutdown waits that
	// long for them to close the connection after its GOAWAY.
	for _, c := range []struct {
		secure   bool
		restarts int
	}{{false, 10}, {true, 3}} {
		t.Run(fmt.Sprintf("tls=%v", c.secure), func(t *testing.T) {
			failures, answered := restartTraffic(t, c.restarts, c.secure, stopByDrain)
			if len(failures) > 0 {
				t.Errorf("%d requests failed across %d restarts, e.g. %v", len(failures), c.restarts, failures[:min(5, len(failures))])
			}
			for n, a := range answered {
				if a == 0 {
					t.Errorf("server %d answered no request (answered: %v)", n, answered)
				}
			}
			t.Logf("answered per server: %v", answered)
		})
	}
}

// BenchmarkRestart measures how many requests a restart under traffic
// loses, stopped by the drain and by http.Server.Shutdown alone (what the
// drain is for): go test -run '^$' -bench Restart -benchtime 3x .
func BenchmarkRestart(b *testing.B) {
	stops := []struct {
		name string
		stop func(context.Context, *http.Server, net.Listener, *drain) error
	}{
		{"stop=drain", stopByDrain},
		{"stop=shutdown", stopByShutdown},
	}
	for _, secure := range []bool{false, true} {
		for _, s := range stops {
			b.Run(fmt.Sprintf("tls=%v/%s", secure, s.name), func(b *testing.B) {
				var lost, all int
				for range b.N {
					failures, answered := restartTraffic(b, 10, secure, s.stop)
					lost += len(failures)
					all += len(failures)
					for _, a := range answered {
						all += int(a)
					}
				}
				b.ReportMetric(float64(lost)/float64(10*b.N), "lost/restart")
				b.ReportMetric(float64(all)/float64(10*b.N), "requests/restart")
			})
		}
	}
}

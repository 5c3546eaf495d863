package handlers_test

import (
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"booking/handlers"
	"booking/store"
)

// withConfig swaps the test server's handler for one built from the same
// store with a changed configuration, and returns it for in-process calls.
func (e *env) withConfig(change func(*handlers.Config)) http.Handler {
	e.t.Helper()
	cfg := handlers.Config{Store: e.st, Logger: slog.New(slog.NewTextHandler(e.logBuf, nil)), Version: "test",
		Started: time.Now(), LoginRate: time.Millisecond, LoginBurst: 1000}
	if change != nil {
		change(&cfg)
	}
	h, err := handlers.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv.Config.Handler = h
	return h
}

// raw sends a request in-process, with the client's cookies, and returns
// the answer unparsed: Go's HTTP client refuses to read a Location header
// with a control character, which is what a browser would follow.
func (c *client) raw(method, path string, form url.Values, remoteAndHeaders ...any) *httptest.ResponseRecorder {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, c.e.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	req.RemoteAddr = "127.0.0.1:40000"
	for _, x := range remoteAndHeaders {
		switch x := x.(type) {
		case string:
			req.RemoteAddr = x
		case map[string]string:
			for k, v := range x {
				req.Header.Set(k, v)
			}
		}
	}
	for _, ck := range c.http.Jar.Cookies(mustURL(c.e.srv.URL)) {
		req.AddCookie(ck)
	}
	w := httptest.NewRecorder()
	c.e.srv.Config.Handler.ServeHTTP(w, req)
	return w
}

// browserResolve resolves a Location header the way a browser does (the
// WHATWG URL parser): leading and trailing C0 controls and spaces are
// dropped, tabs and newlines anywhere are removed, and a backslash counts as
// a slash in http(s) URLs. Go's url package does none of that, so a check
// with it alone would miss what browsers really do.
func browserResolve(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	loc = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, loc)
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

// openRedirectTargets are next=/back= values that try to leave the site.
var openRedirectTargets = []string{
	"/\t/evil.example",
	"/\t\\evil.example",
	"/\n/evil.example",
	"/\r\n/evil.example/x",
	" //evil.example",
	"\t//evil.example",
	"//evil.example",
	"///evil.example",
	"/\\evil.example",
	"\\/evil.example",
	"\\\\evil.example",
	"https://evil.example/",
	"http:evil.example",
	"javascript:alert(1)",
	"/\x00/evil.example",
	"/%09/evil.example",
	"evil.example",
}

// TestRedirectTargetsStayOnSite (finding 1): no next= or back= value sends a
// browser to another host, through any of the forms that take one.
func TestRedirectTargetsStayOnSite(t *testing.T) {
	e := newEnv(t)
	base := mustURL(e.srv.URL)
	check := func(t *testing.T, r *httptest.ResponseRecorder) {
		t.Helper()
		if r.Code != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", r.Code)
		}
		loc := r.Header().Get("Location")
		if strings.ContainsAny(loc, "\\\t\r\n\x00") {
			t.Errorf("Location %q carries a backslash or a control character", loc)
		}
		got, err := browserResolve(base, loc)
		if err != nil {
			t.Fatalf("Location %q: %v", loc, err)
		}
		if got.Scheme != base.Scheme || got.Host != base.Host {
			t.Errorf("Location %q takes a browser to %s", loc, got)
		}
	}
	anna := e.as(e.anna)
	admin := e.as(e.admin)
	for i, target := range openRedirectTargets {
		t.Run(fmt.Sprintf("%q", target), func(t *testing.T) {
			check(t, anna.raw("GET", "/login?next="+url.QueryEscape(target), nil))
			check(t, e.client().raw("POST", "/login", url.Values{"email": {e.anna.Email}, "password": {password}, "next": {target}}))
			check(t, anna.raw("POST", "/language", url.Values{"lang": {"de"}, "next": {target}}))
			check(t, e.client().raw("POST", "/language", url.Values{"lang": {"en"}, "next": {target}}))
			check(t, admin.raw("POST", fmt.Sprintf("/admin/members/%d/state", e.ben.ID), url.Values{"state": {"approved"}, "back": {target}}))
			b, err := e.st.CreateBooking(t.Context(), e.anna, store.BookingInput{Arrival: today + store.Date(2+i), Departure: today + store.Date(3+i),
				Items: []store.Item{{AccommodationID: e.tent.ID, Persons: 1}}})
			if err != nil {
				t.Fatal(err)
			}
			check(t, admin.raw("POST", fmt.Sprintf("/bookings/%d/accept", b.ID), url.Values{"back": {target}}))
		})
	}
	// Paths on the site still work, with their query.
	wantRedirect(t, anna.get("/login?next="+url.QueryEscape("/bookings?when=past")), "/bookings?when=past")
	wantRedirect(t, anna.post("/language", url.Values{"lang": {"de"}, "next": {"/calendar?month=2026-09"}}), "/calendar?month=2026-09")
	wantRedirect(t, admin.post(fmt.Sprintf("/admin/members/%d/state", e.ben.ID), url.Values{"state": {"approved"}, "back": {"/admin?x=1"}}), "/admin?x=1")
}

// postFrom posts a form in-process from a chosen client address and says
// how long the answer took.
func postFrom(h http.Handler, remote, path string, form url.Values, hdr map[string]string) (*httptest.ResponseRecorder, time.Duration) {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = remote
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, req)
	return w, time.Since(start)
}

// TestParallelWrongLoginsAreLimited (finding 2): 30 wrong logins at once
// from one client get past no more attempts than 10 sequential ones would,
// and a correct login from another client does not wait behind them.
func TestParallelWrongLoginsAreLimited(t *testing.T) {
	e := newEnv(t)
	// The server's defaults: 10 failed attempts, then one every 6 s.
	h := e.withConfig(func(c *handlers.Config) { c.LoginRate, c.LoginBurst = 0, 0 })
	good := url.Values{"email": {e.anna.Email}, "password": {password}}
	bad := url.Values{"email": {e.anna.Email}, "password": {"falsch"}}
	// A correct login on a quiet server, for comparison (the second one:
	// the first warms up the hash's memory).
	postFrom(h, "198.51.100.7:1000", "/login", good, nil)
	w, alone := postFrom(h, "198.51.100.7:1000", "/login", good, nil)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("correct login alone: %d", w.Code)
	}

	const n = 30
	codes := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	burstStart := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			w, _ := postFrom(h, fmt.Sprintf("192.0.2.1:%d", 2000+i), "/login", bad, nil)
			codes[i] = w.Code
		}()
	}
	close(start)
	time.Sleep(20 * time.Millisecond) // the flood is in
	w, during := postFrom(h, "198.51.100.8:1000", "/login", good, nil)
	wg.Wait()
	burst := time.Since(burstStart)
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	t.Logf("%d parallel wrong logins from one client: %d x 422, %d x 429 (%v for all); a correct login from another client took %v during the burst, %v alone",
		n, count[422], count[429], burst.Round(time.Millisecond), during.Round(time.Millisecond), alone.Round(time.Millisecond))
	if w.Code != http.StatusSeeOther {
		t.Errorf("correct login during the burst: %d", w.Code)
	}
	if count[422]+count[429] != n || count[422] > 10 {
		t.Errorf("%v: more wrong passwords were checked than the 10 attempts a client has", count)
	}
	// Behind at most the two checks the flooding client may have running,
	// plus its own: about 3x alone, not 30x. The bound leaves room for a
	// busy machine (other tests, other processes).
	if limit := 10*alone + 200*time.Millisecond; during > limit {
		t.Errorf("the correct login took %v during the burst, more than %v", during, limit)
	}
}

// TestForwardedForNeedsATrustedProxy (finding 9): forwarding headers count
// only from a proxy named with -trusted-proxy, for the limiter, the
// fail2ban line, the "local" check of the health pages and link schemes.
func TestForwardedForNeedsATrustedProxy(t *testing.T) {
	e := newEnv(t)
	bad := url.Values{"email": {e.anna.Email}, "password": {"falsch"}}
	wrongLogins := func(h http.Handler, peer string, xff func(i int) string) (until int) {
		t.Helper()
		for i := range 25 {
			w, _ := postFrom(h, peer, "/login", bad, map[string]string{"X-Forwarded-For": xff(i)})
			if w.Code == http.StatusTooManyRequests {
				return i + 1
			}
		}
		return 0
	}
	rotating := func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }

	// By default nobody is trusted, not even a loopback peer: a rotating
	// header does not get a fresh bucket, and the log names the peer.
	h := e.withConfig(func(c *handlers.Config) { c.LoginRate, c.LoginBurst = time.Hour, 10 })
	if n := wrongLogins(h, "127.0.0.1:5000", rotating); n != 11 {
		t.Errorf("default: 429 at attempt %d, want 11", n)
	}
	if logs := e.logBuf.String(); strings.Contains(logs, "ip=203.0.113.") || !strings.Contains(logs, `msg="login failed" ip=127.0.0.1`) {
		t.Errorf("the fail2ban line names the header's address:\n%s", logs)
	}
	// A loopback peer that says it forwarded the request is not local.
	for _, hdr := range []string{"X-Forwarded-For", "Forwarded", "X-Real-IP"} {
		if w := call(h, "GET", "/health/detailed", "127.0.0.1:5000", map[string]string{hdr: "for=192.0.2.1"}); w.Code != http.StatusForbidden {
			t.Errorf("forwarded by %s: /health/detailed %d", hdr, w.Code)
		}
	}
	if w := call(h, "GET", "/health/detailed", "127.0.0.1:5000", nil); w.Code != http.StatusOK {
		t.Errorf("from the Pi itself: /health/detailed %d", w.Code)
	}

	// With the proxy on the Pi named, the client is the address the proxy
	// appended: rotating what the client wrote before it does not help,
	// and each client has its own bucket.
	var proxies handlers.TrustedProxies
	if err := proxies.Set("127.0.0.1, ::1,10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	h = e.withConfig(func(c *handlers.Config) {
		c.LoginRate, c.LoginBurst, c.TrustedProxies = time.Hour, 10, proxies
	})
	mark := len(e.logBuf.String())
	if n := wrongLogins(h, "127.0.0.1:5000", func(i int) string { return rotating(i) + ", 198.51.100.3, 10.1.2.3" }); n != 11 {
		t.Errorf("through the proxy: 429 at attempt %d, want 11", n)
	}
	if logs := e.logBuf.String()[mark:]; !strings.Contains(logs, `msg="login failed" ip=198.51.100.3`) {
		t.Errorf("the fail2ban line does not name the client behind the proxy:\n%s", logs)
	}
	if w, _ := postFrom(h, "127.0.0.1:5000", "/login", bad, map[string]string{"X-Forwarded-For": "198.51.100.4"}); w.Code != http.StatusUnprocessableEntity {
		t.Errorf("another client behind the proxy: %d, want its own bucket", w.Code)
	}
	// A peer that is not a trusted proxy is the client, whatever it says.
	if n := wrongLogins(h, "192.0.2.9:5000", rotating); n != 11 {
		t.Errorf("untrusted peer: 429 at attempt %d, want 11", n)
	}
	// Through the proxy, a request is local only when the proxy says the
	// client is the Pi; a tunnel that names nobody is not.
	for hdr, want := range map[string]int{"": http.StatusForbidden, "192.0.2.1": http.StatusForbidden, "127.0.0.1": http.StatusOK} {
		m := map[string]string{}
		if hdr != "" {
			m["X-Forwarded-For"] = hdr
		}
		if w := call(h, "GET", "/health/detailed", "127.0.0.1:5000", m); w.Code != want {
			t.Errorf("through the proxy for %q: /health/detailed %d, want %d", hdr, w.Code, want)
		}
	}
	// The proxy's word on HTTPS makes https links; nobody else's does.
	admin := e.as(e.admin)
	link := func(remote string) string {
		w := admin.raw("POST", fmt.Sprintf("/admin/members/%d/link", e.anna.ID), url.Values{}, remote, map[string]string{"X-Forwarded-Proto": "https"})
		return w.Body.String()
	}
	if body := link("127.0.0.1:5000"); !strings.Contains(body, `value="https://`) {
		t.Errorf("through the trusted proxy the link is not https")
	}
	if body := link("192.0.2.9:5000"); !strings.Contains(body, `value="http://`) {
		t.Errorf("an untrusted peer's X-Forwarded-Proto made the link https")
	}

	for _, bad := range []string{"localhost", "10.0.0.0/33", "fe80::1%eth0"} {
		var p handlers.TrustedProxies
		if err := p.Set(bad); err == nil {
			t.Errorf("-trusted-proxy %q accepted", bad)
		}
	}
}

// sessionRows counts the stored sessions, and the database's size once its
// WAL is checkpointed into it, through a connection of the test's own.
func (e *env) sessionRows(t *testing.T) (rows int, dbBytes int64) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.st.Path()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT count(*) FROM sessions`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(e.st.Path())
	if err != nil {
		t.Fatal(err)
	}
	return rows, fi.Size()
}

// TestAnonymousVisitorsStoreNoSession (finding 3): nothing an anonymous
// visitor does stores a session: not a logout, a 404, the language switch,
// a failed login or a health probe.
func TestAnonymousVisitorsStoreNoSession(t *testing.T) {
	e := newEnv(t)
	h := e.srv.Config.Handler
	rows0, size0 := e.sessionRows(t)
	const n = 2000
	for i := range n {
		w, _ := postFrom(h, "192.0.2.1:1000", "/logout", url.Values{}, map[string]string{"Sec-Fetch-Site": "same-origin"})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("anonymous logout %d: %d", i, w.Code)
		}
	}
	rows, size := e.sessionRows(t)
	t.Logf("%d anonymous POST /logout: %d new session rows, the database grew by %d bytes", n, rows-rows0, size-size0)
	if rows != rows0 {
		t.Errorf("anonymous logouts stored %d sessions", rows-rows0)
	}

	c := e.client()
	c.get("/nowhere")
	c.post("/nowhere", nil)
	c.post("/language", url.Values{"lang": {"en"}, "next": {"/login"}})
	c.get("/login")
	c.get("/calendar")
	c.get("/forgot")
	c.post("/login", url.Values{"email": {e.anna.Email}, "password": {"falsch"}})
	c.post("/logout", nil)
	c.get("/login") // shows the flash of the logout
	c.get("/health")
	c.get("/health/detailed")
	c.get("/metrics")
	c.get("/setup/unknown")
	c.post("/invite/unknown", url.Values{"password": {"x"}})
	if rows, _ := e.sessionRows(t); rows != rows0 {
		t.Errorf("anonymous visits stored %d sessions", rows-rows0)
	}
	if sessionCookie(c) != "" {
		t.Errorf("an anonymous visitor got a session cookie")
	}

	// A real logout deletes the session and still says goodbye, in the
	// visitor's language, without storing a new one.
	anna := e.as(e.anna)
	if rows, _ := e.sessionRows(t); rows != rows0+1 {
		t.Fatalf("after a login: %d sessions, want %d", rows, rows0+1)
	}
	wantRedirect(t, anna.post("/logout", nil), "/login")
	if n, err := e.st.LiveSessions(t.Context(), e.anna.ID); err != nil || n != 0 {
		t.Errorf("after the logout Anna has %d sessions (%v)", n, err)
	}
	r := anna.get("/login")
	if got := r.text(".flash"); got != "Du bist abgemeldet." {
		t.Errorf("flash after logout: %q", got)
	}
	if got := anna.get("/login").text(".flash"); got != "" {
		t.Errorf("the flash shows twice: %q", got)
	}
	// The logged-out session stays a few minutes as a tombstone; nothing else.
	if rows, _ := e.sessionRows(t); rows != rows0+1 {
		t.Errorf("after the logout: %d session rows, want %d", rows, rows0+1)
	}
	// The flash cookie picks one of our messages; it cannot bring text.
	forged := e.client()
	forged.http.Jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{{Name: "flash", Value: "Bitte neu anmelden unter evil.example"}})
	if got := forged.get("/login").text(".flash"); got != "" {
		t.Errorf("a forged flash cookie is shown: %q", got)
	}
}

// TestMetricsOnlyFromThePiByDefault (finding 11): /metrics answers the Pi
// itself; another host needs the token, or the server started with
// -metrics-open.
func TestMetricsOnlyFromThePiByDefault(t *testing.T) {
	e := newEnv(t)
	h := e.withConfig(nil)
	if w := call(h, "GET", "/metrics", "192.0.2.7:1", nil); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "booking_") {
		t.Errorf("default, from another host: %d", w.Code)
	}
	if w := call(h, "GET", "/metrics", "127.0.0.1:1", map[string]string{"X-Forwarded-For": "192.0.2.7"}); w.Code != http.StatusForbidden {
		t.Errorf("default, forwarded from another host: %d", w.Code)
	}
	for _, local := range []string{"127.0.0.1:1", "[::1]:1"} {
		if w := call(h, "GET", "/metrics", local, nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "booking_members") {
			t.Errorf("default, from %s: %d", local, w.Code)
		}
	}
	h = e.withConfig(func(c *handlers.Config) { c.MetricsOpen = true })
	if w := call(h, "GET", "/metrics", "192.0.2.7:1", nil); w.Code != http.StatusOK {
		t.Errorf("-metrics-open, from another host: %d", w.Code)
	}
	h = e.withConfig(func(c *handlers.Config) { c.MetricsToken = "s3cret" })
	if w := call(h, "GET", "/metrics", "192.0.2.7:1", map[string]string{"Authorization": "Bearer s3cret"}); w.Code != http.StatusOK {
		t.Errorf("token, from another host: %d", w.Code)
	}
	if w := call(h, "GET", "/metrics", "192.0.2.7:1", map[string]string{"Authorization": "Bearer wrong"}); w.Code != http.StatusUnauthorized {
		t.Errorf("wrong token, from another host: %d", w.Code)
	}
	if w := call(h, "GET", "/metrics", "127.0.0.1:1", nil); w.Code != http.StatusOK {
		t.Errorf("token configured, from the Pi without it: %d", w.Code)
	}
}

// sessionTable is every session row, for comparing before and after.
func (e *env) sessionTable(t *testing.T) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.st.Path()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT token, hex(data), expiry, ifnull(user_id, 0), revoked FROM sessions ORDER BY token`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var token, data string
		var expiry float64
		var uid, revoked int64
		if err := rows.Scan(&token, &data, &expiry, &uid, &revoked); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %.9f %d %d\n", token, data, expiry, uid, revoked)
	}
	return b.String()
}

// TestIdleSessionsEnd (finding 14): a session not used for the idle
// timeout is over; one in use lives on, without a write per page view.
func TestIdleSessionsEnd(t *testing.T) {
	e := newEnv(t)
	e.withConfig(func(c *handlers.Config) { c.IdleTimeout = 1500 * time.Millisecond })
	anna := e.as(e.anna)
	time.Sleep(time.Second)
	wantStatus(t, anna.get("/calendar"), http.StatusOK)
	time.Sleep(time.Second) // two seconds after the login, in use all along
	wantStatus(t, anna.get("/bookings"), http.StatusOK)
	time.Sleep(1700 * time.Millisecond)
	wantRedirect(t, anna.get("/calendar"), "/login")

	// With the default of days, page views do not rewrite the session.
	e.withConfig(func(c *handlers.Config) { c.IdleTimeout = 14 * 24 * time.Hour })
	ben := e.as(e.ben)
	before := e.sessionTable(t)
	for range 20 {
		wantStatus(t, ben.get("/calendar"), http.StatusOK)
	}
	if after := e.sessionTable(t); after != before {
		t.Errorf("page views rewrote the session:\n%s\n%s", before, after)
	}
	// The cookie tells the browser the idle expiry too.
	res := e.client().post("/login", url.Values{"email": {e.ben.Email}, "password": {password}})
	for _, ck := range res.Cookies() {
		if ck.Name == "booking_session" && (ck.MaxAge <= 0 || ck.MaxAge > 14*24*3600+1) {
			t.Errorf("session cookie Max-Age %d, want the idle timeout", ck.MaxAge)
		}
	}
}

// TestHealthProbesLeaveSessionsAlone (finding 12): a health probe that
// carries a session cookie reads the session, and changes nothing: no new
// token, no new expiry, no cookie in the answer.
func TestHealthProbesLeaveSessionsAlone(t *testing.T) {
	e := newEnv(t)
	// A short idle timeout, so that its refresh (a 48th) is due by the probe.
	e.withConfig(func(c *handlers.Config) { c.IdleTimeout = 5 * time.Second })
	admin := e.as(e.admin)
	anna := e.as(e.anna)
	time.Sleep(300 * time.Millisecond)
	before := e.sessionTable(t)
	for _, path := range []string{"/health", "/health/detailed", "/health/memory", "/health/database"} {
		for who, c := range map[string]*client{"admin": admin, "member": anna} {
			w := c.raw("GET", path, nil, "192.0.2.5:1000")
			if w.Header().Get("Set-Cookie") != "" {
				t.Errorf("%s %s: the probe answered with a cookie", who, path)
			}
			want := http.StatusOK
			if who == "member" && path != "/health" {
				want = http.StatusForbidden
			}
			if w.Code != want {
				t.Errorf("%s %s: %d, want %d", who, path, w.Code, want)
			}
		}
	}
	if after := e.sessionTable(t); after != before {
		t.Errorf("health probes changed the sessions:\n%s\n%s", before, after)
	}
	wantStatus(t, admin.get("/admin"), http.StatusOK)
}

// TestChangesThatEndOtherSessions (finding 4): after a lost phone, changing
// the password or a reset link logs every other device out; disabling an
// account or changing its role ends its sessions at once, not on their
// next request.
func TestChangesThatEndOtherSessions(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	live := func(u *store.User) int {
		t.Helper()
		n, err := e.st.LiveSessions(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Anna changes her password on her laptop; the lost phone is out, the
	// laptop stays in.
	laptop, phone := e.as(e.anna), e.as(e.anna)
	wantRedirect(t, laptop.post("/profile/password", url.Values{"current": {password}, "password": {"Apfelbaum2027"}, "password2": {"Apfelbaum2027"}}), "/profile")
	wantStatus(t, laptop.get("/calendar"), http.StatusOK)
	wantRedirect(t, phone.get("/calendar"), "/login")
	if n := live(e.anna); n != 1 {
		t.Errorf("after the password change Anna has %d sessions, want 1", n)
	}

	// A reset link logs out every device, the one that uses it starts anew.
	admin := e.as(e.admin)
	r := admin.post(fmt.Sprintf("/admin/members/%d/link", e.anna.ID), nil)
	link, _ := r.doc.Find("#link").Attr("value")
	other := e.client()
	wantRedirect(t, other.post(mustURL(link).Path, url.Values{"password": {"Birnbaum2027"}, "password2": {"Birnbaum2027"}}), "/calendar")
	wantRedirect(t, laptop.get("/calendar"), "/login")
	wantStatus(t, other.get("/calendar"), http.StatusOK)
	if n := live(e.anna); n != 1 {
		t.Errorf("after the reset Anna has %d sessions, want 1", n)
	}

	// Disabled and enabled again before Ben came back: his old session
	// must not work (it ended when he was disabled, not when he next came).
	ben := e.as(e.ben)
	wantRedirect(t, admin.post(fmt.Sprintf("/admin/members/%d/state", e.ben.ID), url.Values{"state": {"disabled"}}), "/admin/members")
	if n := live(e.ben); n != 0 {
		t.Errorf("disabled Ben has %d sessions", n)
	}
	wantRedirect(t, admin.post(fmt.Sprintf("/admin/members/%d/state", e.ben.ID), url.Values{"state": {"approved"}}), "/admin/members")
	wantRedirect(t, ben.get("/calendar"), "/login")

	// A new role: the old session is over, the next login has the role.
	ben = e.as(e.ben)
	wantRedirect(t, admin.post(fmt.Sprintf("/admin/members/%d/role", e.ben.ID), url.Values{"role": {"admin"}}), "/admin/members")
	if n := live(e.ben); n != 0 {
		t.Errorf("after the role change Ben has %d sessions", n)
	}
	wantRedirect(t, ben.get("/admin"), "/login")
	wantStatus(t, e.as(e.ben).get("/admin"), http.StatusOK)
	// The administrator's own session was not touched by any of it.
	wantStatus(t, admin.get("/admin"), http.StatusOK)
}

// TestStateChangeVoidsLinks (finding 5): an invitation only approves an
// account that is still invited, and an administrator's state change voids
// the account's links.
func TestStateChangeVoidsLinks(t *testing.T) {
	e := newEnv(t)
	admin := e.as(e.admin)
	form := url.Values{"password": {"Walnuss2027"}, "password2": {"Walnuss2027"}}
	linkOf := func(r *response) string {
		t.Helper()
		link, ok := r.doc.Find("#link").Attr("value")
		if !ok {
			t.Fatalf("no link on the page:\n%.2000s", r.body)
		}
		return mustURL(link).Path
	}
	// Carla is invited, then disabled before she used the link.
	r := admin.post("/admin/members", url.Values{"name": {"Carla"}, "email": {"carla@example.org"}, "role": {"member"}})
	wantStatus(t, r, http.StatusOK)
	invite := linkOf(r)
	carla, err := e.st.UserByEmail(t.Context(), "carla@example.org")
	if err != nil {
		t.Fatal(err)
	}
	wantRedirect(t, admin.post(fmt.Sprintf("/admin/members/%d/state", carla.ID), url.Values{"state": {"disabled"}}), "/admin/members")
	wantStatus(t, e.client().get(invite), http.StatusGone)
	wantStatus(t, e.client().post(invite, form), http.StatusGone)
	if u, _ := e.st.User(t.Context(), carla.ID); u.State != store.StateDisabled {
		t.Errorf("Carla is %s after using her old link, want disabled", u.State)
	}
	wantStatus(t, e.client().post("/login", url.Values{"email": {"carla@example.org"}, "password": {"Walnuss2027"}}), http.StatusUnprocessableEntity)

	// A reset link dies when the account is disabled, and stays dead when
	// it is enabled again.
	r = admin.post(fmt.Sprintf("/admin/members/%d/link", e.ben.ID), nil)
	reset := linkOf(r)
	wantRedirect(t, admin.post(fmt.Sprintf("/admin/members/%d/state", e.ben.ID), url.Values{"state": {"disabled"}}), "/admin/members")
	wantRedirect(t, admin.post(fmt.Sprintf("/admin/members/%d/state", e.ben.ID), url.Values{"state": {"approved"}}), "/admin/members")
	wantStatus(t, e.client().post(reset, form), http.StatusGone)
	wantRedirect(t, e.client().post("/login", url.Values{"email": {e.ben.Email}, "password": {password}}), "/calendar")
}

// TestOthersCannotOpenEndedBookings (finding 6): another member sees a
// booking only while it holds beds (as in the calendar); a rejected or
// cancelled one is not found for them, as if the id did not exist.
func TestOthersCannotOpenEndedBookings(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	mk := func(day int) *store.Booking {
		b, err := e.st.CreateBooking(ctx, e.anna, store.BookingInput{Arrival: today + store.Date(day), Departure: today + store.Date(day+1),
			Items: []store.Item{{AccommodationID: e.room.ID, Persons: 1}}, Notes: "Geheim"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cancelled, rejected, pending := mk(2), mk(3), mk(4)
	if err := e.st.CancelBooking(ctx, e.anna, cancelled.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.st.RejectBooking(ctx, e.admin, rejected.ID, "Familienfest"); err != nil {
		t.Fatal(err)
	}
	ben, anna, admin := e.as(e.ben), e.as(e.anna), e.as(e.admin)
	for _, b := range []*store.Booking{cancelled, rejected} {
		for _, suffix := range []string{"", "/edit", "/cancel"} {
			path := bookingPath(b.ID) + suffix
			r := ben.get(path)
			wantStatus(t, r, http.StatusNotFound)
			if r.text("main h1") != "Nicht gefunden" {
				t.Errorf("%s: %q", path, r.text("main h1"))
			}
		}
		wantStatus(t, anna.get(bookingPath(b.ID)), http.StatusOK)
		wantStatus(t, admin.get(bookingPath(b.ID)), http.StatusOK)
	}
	// The same answer as for an id that does not exist.
	if a, b := ben.get(bookingPath(cancelled.ID)).body, ben.get(bookingPath(99999)).body; stripRequestID(a) != stripRequestID(b) {
		t.Errorf("a cancelled booking's 404 differs from a missing one's")
	}
	wantStatus(t, ben.get(bookingPath(pending.ID)), http.StatusOK)
}

func bookingPath(id int64) string { return fmt.Sprintf("/bookings/%d", id) }

func stripRequestID(body string) string {
	if i := strings.Index(body, "request"); i >= 0 {
		return body[:i]
	}
	return body
}

// TestBookingLimitsThroughThePages (finding 7): the horizon and the cap on
// pending requests are settings, and their refusals say what to do, in
// German and English.
func TestBookingLimitsThroughThePages(t *testing.T) {
	e := newEnv(t)
	anna := e.as(e.anna)
	form := func(arr string, nights, persons int) url.Values {
		d, _ := store.ParseDate(arr)
		return url.Values{"arrival": {arr}, "departure": {d.AddDays(nights).String()}, "persons." + strconvID(e.tent.ID): {fmt.Sprint(persons)}}
	}
	r := anna.post("/bookings", form("9999-11-01", 2, 1))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := r.text("#arrival-error"); got != "Buchungen gehen höchstens 18 Monate im Voraus: die Anreise muss spätestens am Di, 01.02.2028 sein." {
		t.Errorf("horizon (de): %q", got)
	}
	if max, _ := anna.get("/bookings/new").doc.Find("#arrival").Attr("max"); max != "2028-02-01" {
		t.Errorf("the date field's max is %q", max)
	}
	// Three 30-night requests for every bed: the first is all she may
	// have waiting.
	wantRedirect(t, anna.post("/bookings", form(d(1), 30, 4)), "/bookings/")
	anna.lang = "en"
	r = anna.post("/bookings", form(d(31), 30, 4))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := r.text(".items .alert, .items [role=alert]"); !strings.Contains(got, "That would make 240 bed-nights (persons × nights) in your bookings waiting for a decision; 120 are allowed.") {
		t.Errorf("cap (en): %q\n%s", got, r.doc.Find(".items").Text())
	}
	if v, _ := r.doc.Find("#persons-" + strconvID(e.tent.ID)).Attr("value"); v != "4" {
		t.Errorf("the form lost the persons: %q", v)
	}

	// The administrator sets both; bad values are refused beside their field.
	admin := e.as(e.admin)
	r = admin.get("/admin/settings")
	for id, want := range map[string]string{"horizon_months": "18", "max_pending_bed_nights": "120"} {
		if v, _ := r.doc.Find("#" + id).Attr("value"); v != want {
			t.Errorf("settings page %s=%q, want %s", id, v, want)
		}
	}
	settings := url.Values{"house_name": {"Gartenhaus"}, "time_zone": {"Europe/Berlin"}, "max_nights": {"30"},
		"horizon_months": {"0"}, "max_pending_bed_nights": {"viele"}}
	r = admin.post("/admin/settings", settings)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	for _, id := range []string{"horizon_months", "max_pending_bed_nights"} {
		if r.text("#"+id+"-error") == "" {
			t.Errorf("no error beside %s", id)
		}
	}
	if v, _ := r.doc.Find("#max_pending_bed_nights").Attr("value"); v != "viele" {
		t.Errorf("the form lost what was typed: %q", v)
	}
	settings.Set("horizon_months", "24")
	settings.Set("max_pending_bed_nights", "0")
	wantRedirect(t, admin.post("/admin/settings", settings), "/admin/settings")
	if s := e.st.Settings(); s.HorizonMonths != 24 || s.MaxPendingBedNights != 0 {
		t.Errorf("settings %+v", s)
	}
	wantRedirect(t, anna.post("/bookings", form(d(31), 30, 4)), "/bookings/")
}

// TestNamesCannotImpersonate (finding 8): display names are unique ignoring
// case, accents and look-alike letters, and control and text-direction
// characters are refused, on every form that sets a name.
func TestNamesCannotImpersonate(t *testing.T) {
	e := newEnv(t)
	anna := e.as(e.anna)
	taken := "Diesen Namen trägt schon jemand (Groß- und Kleinschreibung, Akzente und ähnlich aussehende Buchstaben zählen nicht). Bitte einen anderen wählen, z. B. mit Nachnamen."
	bad := "Enthält unsichtbare Steuer- oder Schreibrichtungszeichen. Bitte nur normalen Text."
	for name, want := range map[string]string{
		"ben": taken, " BÉN ": taken, "Вen": taken /* Cyrillic В */, "0ma": taken, "OMA": taken,
		"Anna\u202e": bad, "\u202eamO": bad, "Anna\x1b[31m": bad, "An\u200bna": bad, "Anna\u2067x": bad,
	} {
		r := anna.post("/profile", url.Values{"name": {name}, "language": {"de"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if got := r.text("#name-error"); got != want {
			t.Errorf("rename to %q: %q", name, got)
		}
	}
	if u, _ := e.st.User(t.Context(), e.anna.ID); u.Name != "Anna" {
		t.Errorf("Anna is now %q", u.Name)
	}
	// Her own name in other letters, and a new one, are fine.
	wantRedirect(t, anna.post("/profile", url.Values{"name": {"ANNA"}, "language": {"de"}}), "/profile")
	wantRedirect(t, anna.post("/profile", url.Values{"name": {"Anna Berg"}, "language": {"de"}}), "/profile")
	// The old name is free again; nobody takes the new one.
	admin := e.as(e.admin)
	r := admin.post("/admin/members", url.Values{"name": {"anna berg"}, "email": {"anna2@example.org"}, "role": {"member"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := r.text("#name-error"); got != taken {
		t.Errorf("invitation with a taken name: %q", got)
	}
	wantStatus(t, admin.post("/admin/members", url.Values{"name": {"Anna"}, "email": {"anna2@example.org"}, "role": {"member"}}), http.StatusOK)
	// Self-registration too.
	e.setSelfRegistration(t, true)
	r = e.client().post("/register", url.Values{"name": {"Oma"}, "email": {"fake@example.org"}, "password": {"Kirschbaum7x"}, "password2": {"Kirschbaum7x"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := r.text("#name-error"); got != taken {
		t.Errorf("registration with a taken name: %q", got)
	}
}

// setSelfRegistration switches self-registration in the settings.
func (e *env) setSelfRegistration(t *testing.T, on bool) {
	t.Helper()
	in := e.st.Settings().Input()
	in.SelfRegistration = on
	if err := e.st.UpdateSettings(t.Context(), e.admin, in); err != nil {
		t.Fatal(err)
	}
}

// TestRegistrationRevealsNothing (finding 10): a registration answers the
// same whether the email has an account or not; successful registrations
// count against the client's attempts; only so many accounts may wait for
// approval.
func TestRegistrationRevealsNothing(t *testing.T) {
	e := newEnv(t)
	e.setSelfRegistration(t, true)
	register := func(c *client, name, email string) *response {
		return c.post("/register", url.Values{"name": {name}, "email": {email}, "password": {"Kirschbaum7x"}, "password2": {"Kirschbaum7x"}})
	}
	fresh, existing := e.client(), e.client()
	a := register(fresh, "Dora", "dora@example.org")
	b := register(existing, "Dieter", e.anna.Email) // Anna's address
	if a.StatusCode != b.StatusCode || a.Header.Get("Location") != b.Header.Get("Location") {
		t.Errorf("new address: %d %q; existing: %d %q", a.StatusCode, a.Header.Get("Location"), b.StatusCode, b.Header.Get("Location"))
	}
	wantRedirect(t, a, "/login")
	if sessionCookie(fresh) != "" || sessionCookie(existing) != "" {
		t.Errorf("a registration logged someone in: the answers differ by a cookie")
	}
	fa, fb := fresh.get("/login").text(".flash"), existing.get("/login").text(".flash")
	if fa != fb || !strings.Contains(fa, "Danke") {
		t.Errorf("flash for a new address %q, for an existing one %q", fa, fb)
	}
	if strings.Contains(e.logBuf.String(), e.anna.Email) {
		t.Errorf("the log names the address")
	}
	// Anna's account is untouched; Dora waits and can log in to see so.
	wantRedirect(t, e.client().post("/login", url.Values{"email": {e.anna.Email}, "password": {password}}), "/calendar")
	wantStatus(t, e.client().post("/login", url.Values{"email": {e.anna.Email}, "password": {"Kirschbaum7x"}}), http.StatusUnprocessableEntity)
	dora := e.client()
	wantRedirect(t, dora.post("/login", url.Values{"email": {"dora@example.org"}, "password": {"Kirschbaum7x"}}), "/calendar")
	wantStatus(t, dora.get("/calendar"), http.StatusForbidden)

	// Registrations count against the client's attempts, successful or not.
	h := e.withConfig(func(c *handlers.Config) { c.LoginRate, c.LoginBurst = time.Hour, 5 })
	codes := []int{}
	for i := range 7 {
		w, _ := postFrom(h, "192.0.2.44:1000", "/register", url.Values{"name": {fmt.Sprintf("Gast %c", 'A'+i)},
			"email": {fmt.Sprintf("gast%d@example.org", i)}, "password": {"Kirschbaum7x"}, "password2": {"Kirschbaum7x"}}, nil)
		codes = append(codes, w.Code)
	}
	if fmt.Sprint(codes) != "[303 303 303 303 303 429 429]" {
		t.Errorf("7 registrations from one client: %v", codes)
	}

	// At most MaxWaitingAccounts (10 by default) wait: Dora, Gast A-E is 6.
	h = e.withConfig(nil)
	for i := range 4 {
		w, _ := postFrom(h, fmt.Sprintf("192.0.2.%d:1000", 50+i), "/register", url.Values{"name": {fmt.Sprintf("Nachbar %c", 'A'+i)},
			"email": {fmt.Sprintf("nachbar%d@example.org", i)}, "password": {"Kirschbaum7x"}, "password2": {"Kirschbaum7x"}}, nil)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("registration %d: %d", 7+i, w.Code)
		}
	}
	r := e.client().post("/register", url.Values{"name": {"Zuviel"}, "email": {"zuviel@example.org"}, "password": {"Kirschbaum7x"}, "password2": {"Kirschbaum7x"}})
	wantStatus(t, r, http.StatusServiceUnavailable)
	if !strings.Contains(r.text("main"), "warten schon viele neue Konten") {
		t.Errorf("full: %q", r.text("main"))
	}
	// An existing address gets the same answer when it is full.
	wantStatus(t, register(e.client(), "Dieter", e.ben.Email), http.StatusServiceUnavailable)
	wantStatus(t, e.client().get("/register"), http.StatusServiceUnavailable)
	if _, err := e.st.UserByEmail(t.Context(), "zuviel@example.org"); err == nil {
		t.Errorf("an 11th waiting account was created")
	}
	// The administrator decides on some: room again.
	admin := e.as(e.admin)
	d, _ := e.st.UserByEmail(t.Context(), "dora@example.org")
	wantRedirect(t, admin.post(fmt.Sprintf("/admin/members/%d/state", d.ID), url.Values{"state": {"approved"}}), "/admin/members")
	wantStatus(t, e.client().get("/register"), http.StatusOK)
	// And sets the number.
	r = admin.get("/admin/settings")
	if v, _ := r.doc.Find("#max_waiting_accounts").Attr("value"); v != "10" {
		t.Errorf("settings page max_waiting_accounts=%q", v)
	}
}

// TestCommonPasswordsRefused (finding 13): passwords from the built-in
// list of common ones (and simple variations), one character repeated,
// short patterns repeated and runs along the alphabet or the keyboard are
// refused wherever a password is chosen.
func TestCommonPasswordsRefused(t *testing.T) {
	e := newEnv(t)
	anna := e.as(e.anna)
	const msg = "Dieses Passwort ist zu bekannt oder zu einfach (z. B. „passwort123“, „12345678“ oder lauter gleiche Zeichen). Nimm lieber einen Satz aus mehreren Wörtern."
	weak := []string{"12345678", "password", "        ", "passwort", "Passwort123", "PASSWORD1", "aaaaaaaa", "ääääääää", "abcdefgh",
		"qwertzui", "qwertyuiop", "12121212", "abcabcabc", "iloveyou", "sunshine1", "!michael1987", "87654321", "hallo123", "schalke04"}
	for _, pw := range weak {
		r := anna.post("/profile/password", url.Values{"current": {password}, "password": {pw}, "password2": {pw}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		if got := r.text("#password-error"); got != msg {
			t.Errorf("%q: %q", pw, got)
		}
	}
	// A reset link and a registration refuse them too.
	admin := e.as(e.admin)
	r := admin.post(fmt.Sprintf("/admin/members/%d/link", e.ben.ID), nil)
	link, _ := r.doc.Find("#link").Attr("value")
	r = e.client().post(mustURL(link).Path, url.Values{"password": {"password1"}, "password2": {"password1"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := r.text("#password-error"); got != msg {
		t.Errorf("reset: %q", got)
	}
	e.setSelfRegistration(t, true)
	r = e.client().post("/register", url.Values{"name": {"Dora"}, "email": {"dora@example.org"}, "password": {"qwertz123"}, "password2": {"qwertz123"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if got := r.text("#password-error"); got != msg {
		t.Errorf("registration: %q", got)
	}
	// Long enough and not common: fine.
	for _, pw := range []string{"Kirschbaum am Teich", "Walnuss2027"} {
		wantRedirect(t, anna.post("/profile/password", url.Values{"current": {password}, "password": {pw}, "password2": {pw}}), "/profile")
		wantRedirect(t, anna.post("/profile/password", url.Values{"current": {pw}, "password": {password}, "password2": {password}}), "/profile")
	}
}

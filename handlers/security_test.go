package handlers_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
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
func (c *client) raw(method, path string, form url.Values) *httptest.ResponseRecorder {
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

package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"booking/e2e"
	"booking/handlers"
	"booking/store"
)

// today in the tests: Saturday, 1 August 2026, 10:00 in Berlin.
var today = store.MakeDate(2026, time.August, 1)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// env is a running server with a real database and a few accounts.
type env struct {
	t      testing.TB
	st     *store.Store
	srv    *httptest.Server
	admin  *store.User
	anna   *store.User // member
	ben    *store.User // another member
	room   *store.Accommodation
	tent   *store.Accommodation
	logBuf *e2e.LogBuffer
	clock  *clock
}

const password = "Gartenhaus2026"

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvConfigured(t, nil)
}

// newEnvConfigured is newEnv with a change to the handlers'
// configuration (made once the store is open).
func newEnvConfigured(t testing.TB, configure func(*store.Store, *handlers.Config)) *env {
	t.Helper()
	e := newEmptyEnvConfigured(t, configure)
	ctx := context.Background()
	mk := func(email, name, role string) *store.User {
		u, err := e.st.CreateUser(ctx, store.NewUser{Email: email, Name: name, Role: role, State: store.StateApproved, Password: password})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.admin = mk("oma@example.org", "Oma", store.RoleAdmin)
	e.anna = mk("anna@example.org", "Anna", store.RoleMember)
	e.ben = mk("ben@example.org", "Ben", store.RoleMember)
	var err error
	if e.room, err = e.st.CreateAccommodation(ctx, e.admin, store.AccommodationInput{Name: "Zimmer 1", Kind: "room", Beds: 2}); err != nil {
		t.Fatal(err)
	}
	if e.tent, err = e.st.CreateAccommodation(ctx, e.admin, store.AccommodationInput{Name: "Zelt", Kind: "tent", Beds: 4}); err != nil {
		t.Fatal(err)
	}
	return e
}

// newEmptyEnv is a server on an empty database.
func newEmptyEnv(t testing.TB) *env {
	t.Helper()
	return newEmptyEnvConfigured(t, nil)
}

func newEmptyEnvConfigured(t testing.TB, configure func(*store.Store, *handlers.Config)) *env {
	t.Helper()
	ctx := context.Background()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	c := &clock{t: time.Date(2026, 8, 1, 10, 0, 0, 0, berlin)}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "booking.db"), store.Options{Now: c.Now, TimeZone: berlin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &e2e.LogBuffer{}
	cfg := handlers.Config{Store: st, Logger: slog.New(slog.NewTextHandler(logs, nil)), Version: "test",
		Started: time.Now(), LoginRate: time.Millisecond, LoginBurst: 1000}
	if configure != nil {
		configure(st, &cfg)
	}
	h, err := handlers.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, srv: srv, logBuf: logs, clock: c}
}

// client is a browser: a cookie jar, German by default, no redirects
// followed (the tests check where they go).
type client struct {
	e    *env
	http *http.Client
	lang string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, lang: "de", http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// as returns a client logged in as u.
func (e *env) as(u *store.User) *client {
	e.t.Helper()
	c := e.client()
	if u == nil {
		return c
	}
	res := c.post("/login", url.Values{"email": {u.Email}, "password": {password}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login as %s: status %d", u.Email, res.StatusCode)
	}
	return c
}

type response struct {
	*http.Response
	body string
	doc  *goquery.Document
}

func (c *client) do(req *http.Request) *response {
	c.e.t.Helper()
	req.Header.Set("Accept-Language", c.lang)
	res, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := &response{Response: res, body: string(b)}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		r.doc, err = goquery.NewDocumentFromReader(strings.NewReader(r.body))
		if err != nil {
			c.e.t.Fatal(err)
		}
	}
	return r
}

func (c *client) get(path string) *response {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	return c.do(req)
}

// post sends a form as a same-origin browser would.
func (c *client) post(path string, form url.Values) *response {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

func (r *response) text(sel string) string {
	if r.doc == nil {
		return ""
	}
	return strings.TrimSpace(r.doc.Find(sel).Text())
}

func wantStatus(t testing.TB, r *response, want int) {
	t.Helper()
	if r.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%.2000s", r.Request.Method, r.Request.URL.Path, r.StatusCode, want, r.body)
	}
}

func wantRedirect(t testing.TB, r *response, prefix string) {
	t.Helper()
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), prefix) {
		t.Fatalf("%s %s: status %d to %q, want 303 to %s...", r.Request.Method, r.Request.URL.Path, r.StatusCode, r.Header.Get("Location"), prefix)
	}
}

func d(n int) string { return today.AddDays(n).String() }

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func strconvID(id int64) string { return strconv.FormatInt(id, 10) }

func ioCopy(b *strings.Builder, res *http.Response) (int64, error) {
	defer res.Body.Close()
	return io.Copy(b, res.Body)
}

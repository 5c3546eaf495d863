package handlers_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"booking/store"
)

// TestPermissionMatrix sends every route as four visitors: nobody, the
// owner of a booking (Anna), another member (Ben) and an administrator, and
// checks what each gets. Write routes are checked on a fresh booking each,
// so one visitor's success does not change what the next one sees.
func TestPermissionMatrix(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	barn, err := e.st.CreateAccommodation(ctx, e.admin, store.AccommodationInput{Name: "Scheune", Kind: "other", Beds: 100})
	if err != nil {
		t.Fatal(err)
	}
	newBooking := func() string {
		b, err := e.st.CreateBooking(ctx, e.anna, store.BookingInput{Arrival: today + 5, Departure: today + 6,
			Items: []store.Item{{AccommodationID: barn.ID, Persons: 1}}})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(b.ID)
	}
	const (
		ok    = http.StatusOK
		see   = http.StatusSeeOther
		forb  = http.StatusForbidden
		login = -1 // a redirect to the login page
	)
	type route struct {
		method, path string
		form         url.Values
		// expected status for anonymous, owner, other member, admin
		want [4]int
	}
	id := newBooking()
	tentField := "persons." + fmt.Sprint(barn.ID)
	routes := []route{
		{"GET", "/", nil, [4]int{see, see, see, see}},
		{"GET", "/login", nil, [4]int{ok, see, see, see}},
		{"GET", "/forgot", nil, [4]int{ok, ok, ok, ok}},
		{"GET", "/register", nil, [4]int{404, 404, 404, 404}},
		{"GET", "/health", nil, [4]int{ok, ok, ok, ok}},
		{"GET", "/metrics", nil, [4]int{ok, ok, ok, ok}},
		{"GET", "/calendar", nil, [4]int{login, ok, ok, ok}},
		{"GET", "/availability", nil, [4]int{login, ok, ok, ok}},
		{"GET", "/availability.json?arrival=" + d(1) + "&departure=" + d(3), nil, [4]int{login, ok, ok, ok}},
		{"GET", "/bookings", nil, [4]int{login, ok, ok, ok}},
		{"GET", "/bookings/new", nil, [4]int{login, ok, ok, ok}},
		{"GET", "/bookings/" + id, nil, [4]int{login, ok, ok, ok}}, // private parts hidden, see TestOthersSeeLess
		{"GET", "/bookings/" + id + "/edit", nil, [4]int{login, ok, forb, ok}},
		{"GET", "/bookings/" + id + "/cancel", nil, [4]int{login, ok, forb, ok}},
		{"GET", "/profile", nil, [4]int{login, ok, ok, ok}},
		{"POST", "/bookings", url.Values{"arrival": {d(20)}, "departure": {d(21)}, tentField: {"1"}}, [4]int{forb, see, see, see}},
		{"POST", "/bookings/{new}/edit", url.Values{"arrival": {d(5)}, "departure": {d(7)}, tentField: {"1"}}, [4]int{forb, see, forb, see}},
		{"POST", "/bookings/{new}/cancel", nil, [4]int{forb, see, forb, see}},
		{"POST", "/bookings/{new}/accept", nil, [4]int{forb, forb, forb, see}},
		{"POST", "/bookings/{new}/reject", url.Values{"reason": {"voll"}}, [4]int{forb, forb, forb, see}},
		{"GET", "/admin", nil, [4]int{login, forb, forb, ok}},
		{"GET", "/admin/bookings", nil, [4]int{login, forb, forb, ok}},
		{"GET", "/admin/members", nil, [4]int{login, forb, forb, ok}},
		{"POST", "/admin/members", url.Values{"name": {"X"}, "email": {"{email}"}, "role": {"member"}}, [4]int{forb, forb, forb, ok}},
		{"POST", fmt.Sprintf("/admin/members/%d/link", e.ben.ID), nil, [4]int{forb, forb, forb, ok}},
		{"POST", fmt.Sprintf("/admin/members/%d/role", e.ben.ID), url.Values{"role": {"member"}}, [4]int{forb, forb, forb, see}},
		{"GET", "/admin/accommodations", nil, [4]int{login, forb, forb, ok}},
		{"GET", "/admin/accommodations/new", nil, [4]int{login, forb, forb, ok}},
		{"POST", "/admin/accommodations", url.Values{"name": {"{name}"}, "kind": {"tent"}, "beds": {"2"}}, [4]int{forb, forb, forb, see}},
		{"GET", fmt.Sprintf("/admin/accommodations/%d/edit", e.room.ID), nil, [4]int{login, forb, forb, ok}},
		{"POST", fmt.Sprintf("/admin/accommodations/%d/edit", e.room.ID), url.Values{"name": {"Zimmer 1"}, "kind": {"room"}, "beds": {"2"}}, [4]int{forb, forb, forb, see}},
		{"POST", fmt.Sprintf("/admin/accommodations/%d/active", e.room.ID), url.Values{"active": {"1"}}, [4]int{forb, forb, forb, see}},
		{"GET", "/admin/settings", nil, [4]int{login, forb, forb, ok}},
		{"POST", "/admin/settings", url.Values{"house_name": {"Haus"}, "time_zone": {"Europe/Berlin"}, "max_nights": {"30"}}, [4]int{forb, forb, forb, see}},
		{"GET", "/admin/backups", nil, [4]int{login, forb, forb, ok}},
		{"GET", "/health/detailed", nil, [4]int{ok, ok, ok, ok}}, // loopback is allowed
		// Mail is off here: no reset by mail, no test mail (see mail_test.go).
		{"POST", "/forgot", url.Values{"email": {"anna@example.org"}}, [4]int{404, 404, 404, 404}},
		{"POST", "/profile/mail", nil, [4]int{forb, see, see, see}},
		{"POST", "/profile/feeds", nil, [4]int{forb, see, see, see}},
		{"POST", "/admin/settings/mail/test", url.Values{"to": {"x@example.org"}}, [4]int{forb, forb, forb, http.StatusConflict}},
		{"POST", "/admin/settings/mail/1/again", nil, [4]int{forb, forb, forb, http.StatusConflict}},
		{"POST", "/admin/settings/feeds", url.Values{"occupied_only": {"1"}}, [4]int{forb, forb, forb, see}},
	}
	visitors := []*store.User{nil, e.anna, e.ben, e.admin}
	names := []string{"anonymous", "owner", "other", "admin"}
	n := 0
	for _, rt := range routes {
		for i, u := range visitors {
			n++
			path := rt.path
			if strings.Contains(path, "{new}") {
				path = strings.ReplaceAll(path, "{new}", newBooking())
			}
			form := url.Values{}
			for k, v := range rt.form {
				form[k] = []string{strings.NewReplacer("{email}", fmt.Sprintf("x%d@example.org", n), "{name}", fmt.Sprintf("Platz %d", n)).Replace(v[0])}
			}
			c := e.as(u)
			var r *response
			if rt.method == "GET" {
				r = c.get(path)
			} else {
				r = c.post(path, form)
			}
			want := rt.want[i]
			if want == login {
				if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
					t.Errorf("%s %s as %s: %d to %q, want a redirect to the login", rt.method, path, names[i], r.StatusCode, r.Header.Get("Location"))
				}
				continue
			}
			if r.StatusCode != want {
				t.Errorf("%s %s as %s: %d, want %d", rt.method, path, names[i], r.StatusCode, want)
			}
			// A refusal is a friendly page in German, never a bare text.
			if r.StatusCode == forb && r.doc != nil && r.text("main h1") != "Kein Zugriff" {
				t.Errorf("%s %s as %s: 403 page heading %q", rt.method, path, names[i], r.text("main h1"))
			}
		}
	}
	// Every route of the router is in the matrix (or deliberately elsewhere).
	tested := map[string]bool{}
	for _, rt := range routes {
		p := regexp.MustCompile(`/[0-9]+|/\{new\}`).ReplaceAllString(rt.path, "/{id}")
		tested[rt.method+" "+strings.SplitN(p, "?", 2)[0]] = true
	}
	elsewhere := map[string]bool{"POST /login": true, "POST /logout": true, "POST /language": true, "GET /setup/{token}": true,
		"POST /setup/{token}": true, "GET /invite/{token}": true, "POST /invite/{token}": true, "GET /reset/{token}": true,
		"POST /reset/{token}": true, "POST /register": true, "POST /profile": true, "POST /profile/password": true,
		"POST /admin/members/{id}/state": true, "GET /health/memory": true, "GET /health/database": true,
		"GET /static/": true, "GET /favicon.ico": true,
		"GET /feeds/{token}/{feed:mine|house}.ics": true} // TestFeedValidators
	for _, r := range routeList(t, e) {
		if !tested[r] && !elsewhere[r] {
			t.Errorf("route %s is not in the permission matrix", r)
		}
	}
}

// routeList reads the route table from the source of routes.go, so a new
// route cannot slip past the matrix.
func routeList(t *testing.T, e *env) []string {
	src, err := readFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`r\.(?:Handle|HandleFunc)\("([^"]+)".*\.Methods\((get|post)`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(src, -1) {
		path := regexp.MustCompile(`\{id:\[0-9\]\+\}`).ReplaceAllString(m[1], "{id}")
		out = append(out, strings.ToUpper(m[2])+" "+path)
	}
	if len(out) < 40 {
		t.Fatalf("found only %d routes in routes.go", len(out))
	}
	return out
}

func TestBadInputNeverServerErrors(t *testing.T) {
	e := newEnv(t)
	anna, admin := e.as(e.anna), e.as(e.admin)
	cases := []struct {
		c      *client
		method string
		path   string
		form   url.Values
		want   int
	}{
		{anna, "GET", "/calendar?month=2026-13", nil, 400},
		{anna, "GET", "/calendar?month=../../etc", nil, 400},
		{anna, "GET", "/availability?month=99999-01", nil, 400},
		{anna, "GET", "/bookings?when=tomorrow", nil, 400},
		{anna, "GET", "/bookings?status=paid", nil, 400},
		{anna, "GET", "/bookings/999999", nil, 404},
		{anna, "GET", "/bookings/99999999999999999999999", nil, 404},
		{anna, "GET", "/bookings/abc", nil, 404},
		{anna, "GET", "/no/such/page", nil, 404},
		{anna, "DELETE", "/bookings", nil, 405},
		{anna, "GET", "/availability.json?arrival=x&departure=y", nil, 400},
		{anna, "GET", "/availability.json?arrival=2026-08-01&departure=2126-08-01", nil, 400},
		{anna, "POST", "/bookings", url.Values{"arrival": {"2026-02-30"}, "departure": {"x"}}, 422},
		{anna, "POST", "/bookings", url.Values{"arrival": {d(1)}, "departure": {d(2)}, "persons.999": {"1"}}, 422},
		{anna, "POST", "/bookings", url.Values{"arrival": {d(1)}, "departure": {d(2)}, "persons.1": {"99999999999999999999"}}, 422},
		{anna, "POST", "/bookings", url.Values{"arrival": {d(1)}, "departure": {d(2)}, "persons.1": {"-3"}}, 422},
		{anna, "POST", "/bookings", url.Values{"arrival": {d(1)}, "departure": {d(400)}, "persons.1": {"1"}}, 422},
		{anna, "POST", "/bookings", url.Values{}, 422},
		{anna, "POST", "/bookings", url.Values{"arrival": {d(1)}, "departure": {d(2)}, "persons.1": {"1"}, "notes": {strings.Repeat("ä", 501)}}, 422},
		{anna, "POST", "/bookings", url.Values{"notes": {strings.Repeat("x", 70000)}}, 413},
		{anna, "POST", "/bookings/999/cancel", nil, 404},
		{anna, "POST", "/profile", url.Values{"name": {""}, "language": {"fr"}}, 422},
		{admin, "POST", "/bookings/999/accept", nil, 404},
		{admin, "POST", "/admin/members/999/state", url.Values{"state": {"approved"}}, 404},
		{admin, "POST", fmt.Sprintf("/admin/members/%d/state", e.anna.ID), url.Values{"state": {"king"}}, 422},
		{admin, "POST", fmt.Sprintf("/admin/members/%d/state", e.admin.ID), url.Values{"state": {"disabled"}}, 409},
		{admin, "POST", "/admin/accommodations/999/edit", url.Values{"name": {"X"}, "kind": {"room"}, "beds": {"1"}}, 404},
		{admin, "POST", "/admin/accommodations", url.Values{"name": {"X"}, "kind": {"castle"}, "beds": {"1e9"}}, 422},
		{admin, "GET", "/admin/accommodations/999/edit", nil, 404},
		{admin, "POST", "/admin/members", url.Values{"name": {"X"}, "email": {"anna@example.org"}, "role": {"member"}}, 422},
	}
	for _, tc := range cases {
		var r *response
		if tc.method == "POST" {
			r = tc.c.post(tc.path, tc.form)
		} else {
			req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
			r = tc.c.do(req)
		}
		if r.StatusCode != tc.want {
			t.Errorf("%s %.60s: %d, want %d: %.300s", tc.method, tc.path, r.StatusCode, tc.want, r.text("main"))
		}
		if r.doc != nil && r.text("main") == "" {
			t.Errorf("%s %.60s: empty page", tc.method, tc.path)
		}
	}
	if strings.Contains(e.logBuf.String(), "server error") {
		t.Errorf("bad input caused a server error:\n%s", e.logBuf.String())
	}
}

func TestCrossSiteFormsAreRefused(t *testing.T) {
	e := newEnv(t)
	c := e.as(e.anna)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/bookings", strings.NewReader("arrival=2026-08-05"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://evil.example")
	r := c.do(req)
	if r.StatusCode != http.StatusForbidden || !strings.Contains(r.text("main"), "anderen Seite") {
		t.Errorf("cross-site post: %d %q", r.StatusCode, r.text("main"))
	}
}

func TestStaticAssetsAreFingerprintedAndSmall(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	page := c.get("/login")
	total := 0
	var urls []string
	page.doc.Find(`link[rel=stylesheet], script[src]`).Each(func(_ int, s *goquery.Selection) {
		if u, ok := s.Attr("href"); ok {
			urls = append(urls, u)
		}
		if u, ok := s.Attr("src"); ok {
			urls = append(urls, u)
		}
	})
	if len(urls) != 2 {
		t.Fatalf("assets %v", urls)
	}
	for _, u := range urls {
		if !regexp.MustCompile(`^/static/\w+\.[0-9a-f]{8}\.(css|js)$`).MatchString(u) {
			t.Errorf("not fingerprinted: %s", u)
		}
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+u, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: encoding %q, cache %q", u, res.Header.Get("Content-Encoding"), res.Header.Get("Cache-Control"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(zr); err != nil {
			t.Errorf("%s: bad gzip: %v", u, err)
		}
		total += len(body)
		// A second request with the ETag is answered without a body.
		req.Header.Set("If-None-Match", res.Header.Get("ETag"))
		res2, _ := http.DefaultTransport.RoundTrip(req)
		res2.Body.Close()
		if res2.StatusCode != http.StatusNotModified {
			t.Errorf("%s: conditional request %d", u, res2.StatusCode)
		}
	}
	t.Logf("CSS+JS compressed: %d bytes", total)
	if total > 50<<10 {
		t.Errorf("CSS+JS are %d bytes compressed, over 50 KB", total)
	}
}

func readFile(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"booking/store"
)

// procStatus reads memory figures (in bytes) from /proc/PID/status:
// VmHWM is the peak resident set, RssAnon the heap and stacks, RssFile the
// pages of the binary itself (clean pages the kernel can drop under
// pressure).
func procStatus(pid int) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		v = strings.TrimSpace(v)
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
		if err == nil {
			out[k] = kb * 1024
		}
	}
	if _, ok := out["VmHWM"]; !ok {
		return nil, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
	}
	return out, sc.Err()
}

// prepareHouse makes a database with an admin, 50 members and 6
// accommodations in the site, as the server will find it.
func prepareHouse(tb testing.TB, s *site, members int) []string {
	tb.Helper()
	os.MkdirAll(filepath.Join(s.dir, "data"), 0o755)
	ctx := context.Background()
	st, err := store.Open(ctx, s.dbPath(), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	admin, err := st.CreateUser(ctx, store.NewUser{Email: "admin@example.org", Name: "Admin", Role: store.RoleAdmin, State: store.StateApproved, Password: "load-test-pw"})
	if err != nil {
		tb.Fatal(err)
	}
	for i := range 6 {
		if _, err := st.CreateAccommodation(ctx, admin, store.AccommodationInput{Name: fmt.Sprintf("Raum %d", i), Kind: "room", Beds: 100}); err != nil {
			tb.Fatal(err)
		}
	}
	var emails []string
	for i := range members {
		email := fmt.Sprintf("m%02d@example.org", i)
		if _, err := st.CreateUser(ctx, store.NewUser{Email: email, Name: fmt.Sprintf("Mitglied %d", i), Role: store.RoleMember, State: store.StateApproved, Password: "load-test-pw"}); err != nil {
			tb.Fatal(err)
		}
		emails = append(emails, email)
	}
	return emails
}

// BenchmarkFiftyUsers is the memory budget's load: 50 members log in and
// then, all at once, look at the calendar, their bookings and the booking
// form, and book. It reports requests per second and the server's peak RSS
// (VmHWM) after the load, with replication on as shipped.
//
//	go test -run NONE -bench FiftyUsers -benchtime 20x ./e2e/
func BenchmarkFiftyUsers(b *testing.B) {
	s := newSite(b, nil)
	emails := prepareHouse(b, s, 50)
	srv := s.start()
	base := srv.base
	clients := make([]*http.Client, len(emails))
	for i, email := range emails {
		jar, _ := cookiejar.New(nil)
		clients[i] = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"email": {email}, "password": {"load-test-pw"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		res, err := clients[i].Do(req)
		if err != nil || res.StatusCode != http.StatusSeeOther {
			b.Fatalf("login %s: %v", email, err)
		}
		res.Body.Close()
	}
	afterLogins, err := procStatus(srv.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	var requests, failures atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for n := 0; b.Loop(); n++ {
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() {
				get := func(path string) {
					res, err := c.Get(base + path)
					requests.Add(1)
					if err != nil || res.StatusCode != 200 {
						failures.Add(1)
					}
					if err == nil {
						res.Body.Close()
					}
				}
				get("/calendar")
				get("/bookings")
				get("/bookings/new")
				get("/calendar?month=2027-01")
				arr := store.DateOf(time.Now()).AddDays(1 + (n*7+i)%200)
				form := url.Values{"arrival": {arr.String()}, "departure": {arr.AddDays(2).String()}, "persons.1": {"1"}}
				req, _ := http.NewRequest("POST", base+"/bookings", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Sec-Fetch-Site", "same-origin")
				res, err := c.Do(req)
				requests.Add(1)
				if err != nil || res.StatusCode != http.StatusSeeOther {
					failures.Add(1)
				}
				if err == nil {
					res.Body.Close()
				}
			})
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	mem, err := procStatus(srv.cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	// The Go runtime's share of it (heap, stacks); the rest of the anonymous
	// memory is SQLite's (page caches, allocations of the C code).
	var goMem struct {
		Sys uint64 `json:"sys_bytes"`
	}
	if res, err := http.Get(base + "/health/memory"); err == nil {
		json.NewDecoder(res.Body).Decode(&goMem)
		res.Body.Close()
	}
	if f := failures.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, requests.Load())
	}
	b.ReportMetric(float64(requests.Load())/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(mem["VmHWM"])/(1<<20), "peak-RSS-MB")
	b.ReportMetric(float64(afterLogins["VmHWM"])/(1<<20), "peak-RSS-after-logins-MB")
	b.ReportMetric(float64(mem["RssAnon"])/(1<<20), "anon-RSS-MB")
	b.ReportMetric(float64(mem["RssFile"])/(1<<20), "file-RSS-MB")
	b.ReportMetric(float64(goMem.Sys)/(1<<20), "go-sys-MB")
}

// BenchmarkStartToHealthy starts the real binary on an existing database and
// measures the time until /health answers (budget: 100 ms).
func BenchmarkStartToHealthy(b *testing.B) {
	s := newSite(b, nil)
	prepareHouse(b, s, 3)
	var total time.Duration
	for b.Loop() {
		srv := s.start()
		total += srv.healthy
		srv.stop()
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-healthy")
}

package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"booking/backup"
	"booking/e2e"
	"booking/handlers"
	"booking/store"
)

// replicaState is a replication status set by the test: the handlers only
// read the status snapshot, however the replication produced it.
type replicaState struct{ st backup.ReplicationStatus }

func (r *replicaState) Status() backup.ReplicationStatus { return r.st }

// newObservedEnv is a server with a replication status and a metrics token.
func newObservedEnv(t *testing.T, rs *replicaState, token string) (*env, http.Handler) {
	e := newEnv(t)
	cfg := handlers.Config{Store: e.st, Logger: slog.New(slog.NewTextHandler(e.logBuf, nil)), Version: "test",
		Started: time.Now().Add(-time.Hour), MetricsToken: token}
	if rs != nil {
		cfg.Backups = rs
	}
	h, err := handlers.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e, h
}

// call serves one request in-process from a chosen client address.
func call(h http.Handler, method, path, remote string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	req.RemoteAddr = remote
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestHealthEndpoints(t *testing.T) {
	rs := &replicaState{st: backup.ReplicationStatus{Type: "file", Location: "file /mnt/usb/booking", LastSync: time.Now().Add(-2 * time.Second)}}
	e, h := newObservedEnv(t, rs, "s3cret")
	if _, err := e.st.CheckIntegrity(context.Background()); err != nil {
		t.Fatal(err)
	}
	const local, remote = "127.0.0.1:40000", "192.0.2.7:40000"

	w := call(h, "GET", "/health", remote, nil)
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"status":"healthy"}` || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("/health: %d %s", w.Code, w.Body)
	}
	// The detailed endpoints: loopback, token or admin only.
	for _, p := range []string{"/health/detailed", "/health/memory", "/health/database"} {
		if w := call(h, "GET", p, remote, nil); w.Code != http.StatusForbidden {
			t.Errorf("%s from the network: %d", p, w.Code)
		}
		if w := call(h, "GET", p, remote, map[string]string{"Authorization": "Bearer wrong"}); w.Code != http.StatusForbidden {
			t.Errorf("%s with a wrong token: %d", p, w.Code)
		}
		if w := call(h, "GET", p, remote, map[string]string{"Authorization": "Bearer s3cret"}); w.Code != http.StatusOK {
			t.Errorf("%s with the token: %d", p, w.Code)
		}
		// A proxy on the Pi forwarding a stranger is not loopback.
		if w := call(h, "GET", p, local, map[string]string{"X-Forwarded-For": "192.0.2.7"}); w.Code != http.StatusForbidden {
			t.Errorf("%s forwarded: %d", p, w.Code)
		}
		if w := call(h, "GET", p, local, nil); w.Code != http.StatusOK {
			t.Errorf("%s from loopback: %d", p, w.Code)
		}
	}
	// An admin's session opens them from anywhere; a member's does not.
	for u, want := range map[*store.User]int{e.admin: 200, e.anna: 403} {
		c := e.as(u)
		cookie := ""
		for _, ck := range c.http.Jar.Cookies(mustURL(e.srv.URL)) {
			cookie = ck.Name + "=" + ck.Value
		}
		if w := call(h, "GET", "/health/detailed", remote, map[string]string{"Cookie": cookie}); w.Code != want {
			t.Errorf("detailed as %s: %d, want %d", u.Name, w.Code, want)
		}
	}

	var det struct {
		Status      string
		Version     string
		Database    struct{ Status string }
		Replication map[string]any
		Memory      struct {
			RSSBytes int64 `json:"rss_bytes"`
		}
		Disk map[string]uint64
	}
	decode(t, call(h, "GET", "/health/detailed", local, nil), &det)
	if det.Status != "healthy" || det.Database.Status != "healthy" || det.Version != "test" || det.Memory.RSSBytes <= 0 ||
		det.Replication["location"] != "file /mnt/usb/booking" || det.Disk["size_bytes"] == 0 {
		t.Errorf("detailed: %+v", det)
	}
	var db struct {
		Status    string
		PageCount int64             `json:"page_count"`
		FileBytes int64             `json:"file_bytes"`
		Integrity struct{ OK bool } `json:"last_integrity_check"`
	}
	decode(t, call(h, "GET", "/health/database", local, nil), &db)
	if db.Status != "healthy" || db.PageCount == 0 || db.FileBytes == 0 || !db.Integrity.OK {
		t.Errorf("database: %+v", db)
	}

	// A replica that has not synced for ten minutes degrades the status,
	// but the process is still up: 200, not 503.
	rs.st.LastSync = time.Now().Add(-10 * time.Minute)
	w = call(h, "GET", "/health/detailed", local, nil)
	decode(t, w, &det)
	if w.Code != 200 || det.Status != "degraded" {
		t.Errorf("stale replica: %d %s", w.Code, det.Status)
	}
	// Degraded while the replica fails (from an error until the next
	// successful sync), not for minutes after it recovered.
	rs.st.LastSync, rs.st.LastError, rs.st.LastErrorAt = time.Now(), "sftp: connection refused", time.Now()
	rs.st.Failing, rs.st.FailingSince = true, time.Now()
	decode(t, call(h, "GET", "/health/detailed", local, nil), &det)
	if det.Status != "degraded" || det.Replication["last_error"] != "sftp: connection refused" {
		t.Errorf("replica error: %s %v", det.Status, det.Replication)
	}
	rs.st.Failing = false
	decode(t, call(h, "GET", "/health/detailed", local, nil), &det)
	if det.Status != "healthy" || det.Replication["last_error"] != "sftp: connection refused" {
		t.Errorf("replica recovered: %s %v", det.Status, det.Replication)
	}
	// A closed database is unhealthy: 503.
	e.st.Close()
	if w := call(h, "GET", "/health/detailed", local, nil); w.Code != http.StatusServiceUnavailable {
		t.Errorf("closed database: %d", w.Code)
	}
	if w := call(h, "GET", "/health", local, nil); w.Code != 200 {
		t.Errorf("liveness must not touch the database: %d", w.Code)
	}
}

func decode(t *testing.T, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
}

func TestMetrics(t *testing.T) {
	rs := &replicaState{st: backup.ReplicationStatus{Type: "file", LastSync: time.Unix(1_800_000_000, 0)}}
	e, h := newObservedEnv(t, rs, "")
	srv := httptest.NewServer(h)
	defer srv.Close()
	e.srv = srv
	anna := e.as(e.anna)
	room := "persons." + strconvID(e.room.ID)
	anna.post("/bookings", url.Values{"arrival": {d(1)}, "departure": {d(2)}, room: {"2"}})
	anna.post("/bookings", url.Values{"arrival": {d(1)}, "departure": {d(2)}, room: {"1"}}) // full
	anna.post("/bookings", url.Values{"arrival": {"gestern"}})                              // invalid
	e.client().post("/login", url.Values{"email": {"anna@example.org"}, "password": {"nope"}})
	anna.get("/bookings/12345")

	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b := new(strings.Builder)
	_, _ = ioCopy(b, res)
	scrape := b.String()
	for _, want := range []string{
		"booking_creation_attempts_total 3",
		`booking_creation_errors_total{reason="no_capacity"} 1`,
		`booking_creation_errors_total{reason="validation"} 1`,
		`booking_creation_errors_total{reason="internal"} 0`,
		"booking_failed_login_attempts_total 1",
		`booking_bookings{status="pending"} 1`,
		`booking_members{state="approved"} 3`,
		`http_requests_total{method="POST",route="/bookings",status="303"} 1`,
		`http_requests_total{method="POST",route="/bookings",status="422"} 2`,
		`http_requests_total{method="GET",route="/bookings/{id:[0-9]+}",status="404"} 1`,
		`http_request_duration_seconds_bucket{method="POST",route="/login",le="+Inf"}`,
		"booking_replication_last_sync_timestamp_seconds 1.8e+09",
		"booking_data_disk_free_bytes ",
		`booking_build_info{goversion="go`,
		"process_resident_memory_bytes ",
		"go_goroutines ",
	} {
		if !strings.Contains(scrape, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
	// The raw path never becomes a label: cardinality stays bounded.
	if strings.Contains(scrape, "/bookings/12345") {
		t.Errorf("a raw path is a label value")
	}
	promtoolCheckMetrics(t, scrape)
	// Every metric the dashboard and the alerts use is exported.
	want, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "metrics.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Fields(string(want)) {
		if strings.HasPrefix(name, "litestream_") {
			continue // checked where Litestream runs (the replication tests)
		}
		if strings.HasPrefix(name, "booking_tls_") {
			continue // only with HTTPS on: checked by the TLS tests (tls_test.go, e2e/tls_test.go)
		}
		if !strings.Contains(scrape, "\n"+name) {
			t.Errorf("dashboard/alerts use %s, which the server does not export", name)
		}
	}
}

// promtoolCheckMetrics lints a scrape with Prometheus's own checker.
func promtoolCheckMetrics(t *testing.T, scrape string) {
	t.Helper()
	promtool := e2e.RequireTool(t, "promtool", "apt-get install prometheus")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(scrape)
	out, err := cmd.CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func TestMetricsToken(t *testing.T) {
	_, h := newObservedEnv(t, nil, "s3cret")
	if w := call(h, "GET", "/metrics", "192.0.2.7:1", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("without token: %d", w.Code)
	}
	if w := call(h, "GET", "/metrics", "192.0.2.7:1", map[string]string{"Authorization": "Bearer s3cret"}); w.Code != http.StatusOK {
		t.Errorf("with token: %d", w.Code)
	}
}

// Access lines: by default only for requests that change something or
// fail (the phones looking all day would write to the SD card all day);
// every request with LogAllRequests.
func TestAccessLines(t *testing.T) {
	for _, all := range []bool{false, true} {
		e := newEnv(t)
		var logs bytes.Buffer
		h, err := handlers.New(handlers.Config{Store: e.st, Logger: slog.New(slog.NewTextHandler(&logs, nil)), LogAllRequests: all})
		if err != nil {
			t.Fatal(err)
		}
		const remote = "192.0.2.7:40000"
		call(h, "GET", "/health", remote, nil)
		call(h, "GET", "/no-such-page", remote, nil)
		call(h, "POST", "/login", remote, map[string]string{"Sec-Fetch-Site": "same-origin"})
		got := logs.String()
		if strings.Contains(got, "route=/health ") != all {
			t.Errorf("LogAllRequests %v: access line of a good GET: %v\n%s", all, !all, got)
		}
		if !strings.Contains(got, "status=404") || !strings.Contains(got, "method=POST route=/login") {
			t.Errorf("LogAllRequests %v: the failure and the change must have their lines:\n%s", all, got)
		}
	}
}

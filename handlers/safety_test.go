package handlers_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"booking/backup"
	"booking/e2e"
	"booking/handlers"
	"booking/store"
)

// newEnvWith is newEnv with store options and a replication status, and
// the HTTP server's own error log (where net/http reports a superfluous
// WriteHeader) in the env's log buffer.
func newEnvWith(t *testing.T, path string, opt store.Options, rs *replicaState) *env {
	t.Helper()
	ctx := context.Background()
	berlin, _ := time.LoadLocation("Europe/Berlin")
	c := &clock{t: time.Date(2026, 8, 1, 10, 0, 0, 0, berlin)}
	opt.Now, opt.TimeZone = c.Now, berlin
	logs := &e2e.LogBuffer{}
	opt.Logger = slog.New(slog.NewTextHandler(logs, nil))
	st, err := store.Open(ctx, path, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := handlers.Config{Store: st, Logger: opt.Logger, Version: "test", Started: time.Now().Add(-time.Hour),
		LoginRate: time.Millisecond, LoginBurst: 1000}
	if rs != nil {
		cfg.Backups = rs
	}
	h, err := handlers.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(logs, "http: ", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, srv: srv, logBuf: logs}
	// The accounts and the tent of newEnv, if the database has them.
	if users, err := st.Users(ctx); err == nil {
		for _, u := range users {
			switch u.Email {
			case "oma@example.org":
				e.admin = u
			case "anna@example.org":
				e.anna = u
			case "ben@example.org":
				e.ben = u
			}
		}
	}
	if accs, err := st.Accommodations(ctx, true); err == nil {
		for _, a := range accs {
			switch a.Name {
			case "Zimmer 1":
				e.room = a
			case "Zelt":
				e.tent = a
			}
		}
	}
	return e
}

// fixtureFile is newEnv's database with a few of Anna's bookings,
// closed, in a file of its own.
func fixtureFile(t *testing.T) string {
	t.Helper()
	e := newEnv(t)
	for i := range 3 {
		if _, err := e.st.CreateBooking(context.Background(), e.anna, store.BookingInput{Arrival: today.AddDays(10 + i), Departure: today.AddDays(11 + i),
			Items: []store.Item{{AccommodationID: e.room.ID, Persons: 1}}}); err != nil {
			t.Fatal(err)
		}
	}
	path := e.st.Path()
	e.st.Close()
	return path
}

func rootPage(t *testing.T, path, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT rootpage FROM sqlite_schema WHERE name = ?`, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

type detailed struct {
	Status      string
	Problems    []string
	Database    map[string]any
	Replication map[string]any
	Disk        map[string]any
}

func getDetailed(t *testing.T, e *env) (int, detailed) {
	t.Helper()
	res, err := http.Get(e.srv.URL + "/health/detailed") // loopback: allowed
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d detailed
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, d
}

func scrape(t *testing.T, e *env) string {
	t.Helper()
	res, err := http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b := new(strings.Builder)
	ioCopy(b, res)
	return b.String()
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// Issue 10, item 2: random bytes over a table's page. The server starts
// (only the schema is read at start); the first query that meets the
// damage, or the integrity check, makes the database unhealthy at once:
// 503 on both health endpoints, the metric, the members see a page that
// says what happened, and the Backups page tells the administrator to
// restore.
func TestDamagedDatabaseIsUnhealthy(t *testing.T) {
	path := fixtureFile(t)
	e2e.CorruptPage(t, path, rootPage(t, path, "bookings"))
	e := newEnvWith(t, path, store.Options{}, nil)
	admin := e.as(e.admin) // the users' pages are intact

	code, d := getDetailed(t, e)
	if code != 200 || d.Status != "healthy" {
		t.Fatalf("before anything met the damage: %d %+v", code, d)
	}
	// An administrator looks at the bookings: the query meets the damage.
	r := admin.get("/admin/bookings")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if !strings.Contains(r.text("main"), "beschädigt") {
		t.Errorf("the error page does not say the database is damaged: %q", r.text("main"))
	}
	code, d = getDetailed(t, e)
	if code != http.StatusServiceUnavailable || d.Status != "unhealthy" || !anyContains(d.Problems, "malformed") ||
		!anyContains(d.Problems, "booking restore --replace") {
		t.Errorf("detailed health after a malformed query: %d %+v", code, d)
	}
	res, err := http.Get(e.srv.URL + "/health/database")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/health/database: %d", res.StatusCode)
	}
	if m := scrape(t, e); !strings.Contains(m, "booking_database_damaged 1") {
		t.Errorf("the metric does not show it:\n%s", grepLines(m, "booking_database"))
	}
	page := admin.get("/admin/backups")
	wantStatus(t, page, 200)
	if txt := page.text("#database-state"); !strings.Contains(txt, "beschädigt") || !strings.Contains(txt, "booking restore --replace") {
		t.Errorf("the Backups page does not say what to do: %q", txt)
	}

	// The check at start fails the same way, and is recorded.
	if _, err := e.st.CheckIntegrity(context.Background()); err == nil {
		t.Error("the integrity check of a damaged file passed")
	}
	var db struct {
		Status    string
		Integrity *struct {
			OK     bool
			Detail string
		} `json:"last_integrity_check"`
	}
	res, _ = http.Get(e.srv.URL + "/health/database")
	json.NewDecoder(res.Body).Decode(&db)
	res.Body.Close()
	if db.Status != "unhealthy" || db.Integrity == nil || db.Integrity.OK {
		t.Errorf("/health/database after the check: %+v", db)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Issue 10, item 5: the health follows the replication's state, not "an
// error in the last 5 minutes", and our counter has the errors by reason.
func TestReplicationStateInHealth(t *testing.T) {
	rs := &replicaState{st: backup.ReplicationStatus{Type: "file", Location: "file /mnt/usb/booking", LastSync: time.Now(),
		Errors: map[string]uint64{"not_writable": 0, "other": 0}}}
	e := newEnvWith(t, fixtureFile(t), store.Options{}, rs)
	if code, d := getDetailed(t, e); code != 200 || d.Status != "healthy" {
		t.Errorf("healthy replica: %d %+v", code, d)
	}
	rs.st.Failing, rs.st.FailingSince = true, time.Now().Add(-3*time.Second)
	rs.st.LastError, rs.st.LastErrorAt = "the replica's folder cannot be written (is the backup disk mounted?)", time.Now()
	rs.st.Errors["not_writable"] = 3
	code, d := getDetailed(t, e)
	if code != 200 || d.Status != "degraded" || !anyContains(d.Problems, "cannot be written") || d.Replication["failing"] != true {
		t.Errorf("failing replica: %d %+v", code, d)
	}
	if m := scrape(t, e); !strings.Contains(m, `booking_replication_errors_total{reason="not_writable"} 3`) ||
		!strings.Contains(m, `booking_replication_errors_total{reason="other"} 0`) || !strings.Contains(m, "booking_replication_failing 1") {
		t.Errorf("metrics:\n%s", grepLines(m, "booking_replication"))
	}
	// Recovered a second ago: healthy at once, the old error kept as history.
	rs.st.Failing, rs.st.LastSync = false, time.Now()
	code, d = getDetailed(t, e)
	if code != 200 || d.Status != "healthy" || d.Replication["last_error"] == nil {
		t.Errorf("recovered replica: %d %+v", code, d)
	}
	page := e.as(e.admin).get("/admin/backups")
	if txt := page.text("#replication-state"); !strings.Contains(txt, "behoben") {
		t.Errorf("the Backups page shows a solved problem as current: %q", txt)
	}
	// Refused to replicate over a replica that is ahead: unhealthy.
	rs.st.Stopped = "the replica is ahead of this database"
	if code, d := getDetailed(t, e); code != http.StatusServiceUnavailable || !anyContains(d.Problems, "ahead") {
		t.Errorf("refused replication: %d %+v", code, d)
	}
}

// Issue 10, item 6: a full disk. The booking that did not fit answers 507
// with a page that says nothing was saved; what was acknowledged is there;
// health is unhealthy with the reason; the Backups page shows the free
// space; and net/http never logs a superfluous WriteHeader (it did when
// the session could not be saved after the page had begun).
func TestStorageFullPage(t *testing.T) {
	path := fixtureFile(t)
	db, _ := sql.Open("sqlite", "file:"+path)
	var pages int
	db.QueryRow(`PRAGMA page_count`).Scan(&pages)
	db.Close()
	e := newEnvWith(t, path, store.Options{MaxPageCount: pages + 6}, nil)
	admin := e.as(e.admin)
	anna := e.as(e.anna)
	tent := "persons." + strconvID(e.tent.ID)
	var acked int
	var last *response
	for i := 0; i < 2000; i++ {
		last = anna.post("/bookings", url.Values{"arrival": {d(1 + i%300)}, "departure": {d(2 + i%300)}, tent: {"1"},
			"notes": {strings.Repeat("Wir bringen Kuchen mit. ", 20)}})
		if last.StatusCode != http.StatusSeeOther {
			break
		}
		acked++
	}
	wantStatus(t, last, http.StatusInsufficientStorage)
	if txt := last.text("main"); !strings.Contains(txt, "Speicher des Servers ist voll") || !strings.Contains(txt, "nichts gespeichert") {
		t.Errorf("the 507 page: %q", txt)
	}
	en := e.as(nil)
	en.lang = "en"
	if r := en.get("/login"); r.StatusCode != 200 {
		t.Fatalf("login page: %d", r.StatusCode)
	}
	counts, err := e.st.CountBookingsByStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if counts[store.StatusPending] != acked+3 {
		t.Errorf("%d bookings saved, %d acknowledged", counts[store.StatusPending], acked)
	}
	code, d := getDetailed(t, e)
	if code != http.StatusServiceUnavailable || d.Status != "unhealthy" || !anyContains(d.Problems, "storage is full") {
		t.Errorf("detailed health: %d %+v", code, d)
	}
	if m := scrape(t, e); !strings.Contains(m, "booking_database_storage_full 1") {
		t.Errorf("metrics:\n%s", grepLines(m, "booking_database"))
	}
	page := admin.get("/admin/backups")
	wantStatus(t, page, 200)
	if txt := page.text("#disk-free"); !strings.Contains(txt, "frei") {
		t.Errorf("free space on the Backups page: %q", txt)
	}
	if txt := page.text("#database-state"); !strings.Contains(txt, "voll") {
		t.Errorf("the Backups page does not say the storage is full: %q", txt)
	}
	if strings.Contains(e.logBuf.String(), "superfluous") {
		t.Errorf("net/http logged a superfluous WriteHeader:\n%s", e.logBuf)
	}
	t.Logf("%d bookings fitted; then: %d", acked, last.StatusCode)
}

// The session cannot be saved after the handler has begun its answer (the
// new password is saved, the session's new token is not): the answer goes
// out as the handler wrote it, once, and the log says the session was not
// saved. Before, scs's error handler wrote a 500 page in front of it and
// net/http logged a superfluous WriteHeader: the member saw an error for a
// change that was made. (A booking no longer writes the session at all: its
// flash message rides in a cookie.)
func TestSessionSaveFailsAfterTheAnswerBegan(t *testing.T) {
	path := fixtureFile(t)
	e := newEnvWith(t, path, store.Options{}, nil)
	anna := e.as(e.anna)
	// The new token is inserted when the session is saved (the password
	// change itself deletes the member's other sessions).
	failSessionWrites(t, path, "INSERT")
	r := anna.post("/profile/password", url.Values{"current": {password}, "password": {"Apfelbaum2027"}, "password2": {"Apfelbaum2027"}})
	wantRedirect(t, r, "/profile")
	if strings.Contains(r.body, "<html") && strings.Contains(r.body, "schiefgegangen") {
		t.Errorf("an error page in front of the redirect:\n%s", r.body)
	}
	logs := e.logBuf.String()
	if strings.Contains(logs, "superfluous") || !strings.Contains(logs, "session could not be saved") {
		t.Errorf("log:\n%s", logs)
	}
	if _, err := e.st.Authenticate(context.Background(), e.anna.Email, "Apfelbaum2027"); err != nil {
		t.Errorf("the new password: %v", err)
	}
}

// A booking's flash message rides in a cookie: the booking is one commit,
// and neither it nor the page that shows the message writes the session.
func TestBookingDoesNotWriteTheSession(t *testing.T) {
	path := fixtureFile(t)
	e := newEnvWith(t, path, store.Options{}, nil)
	anna := e.as(e.anna)
	failSessionWrites(t, path, "UPDATE")
	r := anna.post("/bookings", url.Values{"arrival": {d(3)}, "departure": {d(4)}, "persons." + strconvID(e.tent.ID): {"1"}})
	wantRedirect(t, r, "/bookings/")
	page := anna.get("/calendar")
	if got := page.text(".flash"); got == "" {
		t.Errorf("no flash after the booking")
	}
	if got := anna.get("/calendar").text(".flash"); got != "" {
		t.Errorf("the flash shows twice: %q", got)
	}
	if logs := e.logBuf.String(); strings.Contains(logs, "session could not be saved") {
		t.Errorf("the session was written:\n%s", logs)
	}
}

// Issue 10, item 8: the Backups page shows the folders restores moved old
// databases into, and how much room they take.
func TestBackupsPageShowsSetAsideFolders(t *testing.T) {
	e := newEnv(t)
	for i, name := range []string{"20261101T100000Z", "20261102T100000Z"} {
		dir := e.st.Path() + ".before-restore-" + name
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "booking.db"), make([]byte, 1_500_000*(i+1)), 0o640)
	}
	page := e.as(e.admin).get("/admin/backups")
	wantStatus(t, page, 200)
	txt := page.text("#set-aside")
	if !strings.Contains(txt, "2 Ordner, zusammen 4.5 MB") || !strings.Contains(txt, "die neuesten 3 bleiben") ||
		!strings.Contains(txt, "before-restore-20261102T100000Z") {
		t.Errorf("set-aside folders on the Backups page: %q", txt)
	}
}

// failSessionWrites makes every INSERT or UPDATE (op) of a session row in the
// database at path fail, as a full or failing disk would, through a trigger
// the server under test cannot tell from a real failure.
func failSessionWrites(t *testing.T, path, op string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TRIGGER sessions_fail_` + strings.ToLower(op) + ` BEFORE ` + op +
		` ON sessions BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END`); err != nil {
		t.Fatal(err)
	}
}

// The harness of the end-to-end tests: the binary built once per test
// process, a site folder with the shipped litestream.yml, a server on a free
// loopback port that is healthy before the test goes on, its commands, a
// browser without JavaScript, and reading what ended up in a database or a
// replica.

package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "booking/store" // registers the SQLite driver bookingStatuses reads with
)

var (
	// moduleRoot is the folder with go.mod, which holds the shipped
	// litestream.yml and the package the binary is built from.
	moduleRoot string
	// binDir holds the binary; TestMain removes it at the end.
	binDir string
)

func TestMain(m *testing.M) {
	root, err := filepath.Abs("..")
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "go.mod"))
	}
	if err == nil {
		binDir, err = os.MkdirTemp("", "booking-e2e-")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	moduleRoot = root
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// binary builds the server once per test process (on first use, so that a
// run of skipped tests builds nothing) and returns its path. A real process
// can be killed for real.
func binary(tb testing.TB) string {
	tb.Helper()
	goTool := RequireTool(tb, "go", "install Go")
	buildOnce.Do(func() {
		bin := filepath.Join(binDir, "booking")
		start := time.Now()
		if out, err := exec.Command(goTool, "build", "-o", bin, moduleRoot).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		tb.Logf("built the server in %s", time.Since(start).Round(time.Millisecond))
		built = bin
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return built
}

// site is a folder the server runs in, as on the Pi: litestream.yml and,
// below it, data/.
type site struct {
	t   testing.TB
	dir string
	// env is added to the server's environment (e.g. BOOKING_SMTP_URL).
	env []string
}

// newSite writes litestream.yml: the shipped one, with edit applied (nil:
// unchanged).
func newSite(tb testing.TB, edit func(yml string) string) *site {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot, "litestream.yml"))
	if err != nil {
		tb.Fatal(err)
	}
	yml := string(b)
	if edit != nil {
		yml = edit(yml)
	}
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "litestream.yml"), []byte(yml), 0o644); err != nil {
		tb.Fatal(err)
	}
	return &site{t: tb, dir: dir}
}

// newUSBSite is a site with the shipped config whose replica lives outside
// data/, as on a USB disk; usb is that disk's folder (the replica is
// usb/booking), so a test can unplug it or read it.
func newUSBSite(tb testing.TB) (s *site, usb string) {
	tb.Helper()
	usb = filepath.Join(tb.TempDir(), "usb")
	return newSite(tb, func(yml string) string {
		return strings.Replace(yml, "path: data/replica", "path: "+filepath.Join(usb, "booking"), 1)
	}), usb
}

func (s *site) dbPath() string { return filepath.Join(s.dir, "data", "booking.db") }

// run runs one command of the binary in the site's folder.
func (s *site) run(stdin string, args ...string) (stdout, stderr string, code int) {
	s.t.Helper()
	bin := binary(s.t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = s.dir
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		s.t.Fatalf("booking %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// mustRun runs a command that must succeed and returns its output.
func (s *site) mustRun(args ...string) string {
	s.t.Helper()
	out, errOut, code := s.run("", args...)
	if code != 0 {
		s.t.Fatalf("booking %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

const adminEmail, adminPassword = "oma@example.org", "Apfelkuchen mit Sahne"

func (s *site) addAdmin() {
	s.t.Helper()
	if out, errOut, code := s.run(adminPassword+"\n", "user", "add", "--email", adminEmail, "--name", "Oma", "--admin"); code != 0 {
		s.t.Fatalf("user add: %d %s %s", code, out, errOut)
	}
}

// server is a running "booking serve".
type server struct {
	t       testing.TB
	cmd     *exec.Cmd
	base    string     // http://127.0.0.1:PORT
	logs    *LogBuffer // stdout and stderr
	done    chan struct{}
	healthy time.Duration // from exec to the first 200 on /health
	exit    error
}

// start runs "booking serve" in the site's folder on a free loopback port
// and waits until /health answers. The test's cleanup kills it if it still
// runs.
func (s *site) start(args ...string) *server {
	s.t.Helper()
	addr := FreePort(s.t)
	return s.startWith("http://"+addr, &http.Client{Timeout: time.Second}, append([]string{"-addr", addr}, args...)...)
}

// startWith runs "booking serve args..." and waits until base + "/health"
// answers through client: for HTTPS, a client that trusts the certificate.
func (s *site) startWith(base string, client *http.Client, args ...string) *server {
	s.t.Helper()
	bin := binary(s.t)
	srv := &server{t: s.t, base: base, logs: &LogBuffer{}, done: make(chan struct{})}
	srv.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	srv.cmd.Dir = s.dir
	// BENCH_SERVER_ENV passes settings to the server only (e.g.
	// GOMEMLIMIT=16MiB), not to the load generator in this process.
	srv.cmd.Env = append(append(os.Environ(), s.env...), strings.Fields(os.Getenv("BENCH_SERVER_ENV"))...)
	srv.cmd.Stdout, srv.cmd.Stderr = srv.logs, srv.logs
	started := time.Now()
	if err := srv.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { srv.exit = srv.cmd.Wait(); close(srv.done) }()
	s.t.Cleanup(srv.kill)
	for deadline := started.Add(30 * time.Second); ; {
		res, err := client.Get(srv.base + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				srv.healthy = time.Since(started)
				return srv
			}
		}
		select {
		case <-srv.done:
			s.t.Fatalf("the server exited: %v\n%s", srv.exit, srv.logs)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the server did not become healthy:\n%s", srv.logs)
		}
	}
}

// startRefused runs "booking serve" and expects it to refuse to start: to
// exit with a non-zero status by itself. It returns what the server logged.
func (s *site) startRefused(args ...string) string {
	s.t.Helper()
	bin := binary(s.t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "-addr", FreePort(s.t)}, args...)...)
	cmd.Dir = s.dir
	logs := &LogBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	err := cmd.Run()
	var ee *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &ee) || ee.ExitCode() <= 0 {
		s.t.Fatalf("the server did not refuse to start (%v):\n%s", err, logs)
	}
	return logs.String()
}

// kill ends the server with SIGKILL: no final sync, no closing.
func (srv *server) kill() {
	select {
	case <-srv.done:
		return
	default:
	}
	srv.cmd.Process.Kill()
	<-srv.done
}

// stop ends the server the way systemd does and expects a clean exit.
func (srv *server) stop() {
	srv.t.Helper()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
	case <-time.After(60 * time.Second):
		srv.kill()
		srv.t.Fatalf("the server did not stop:\n%s", srv.logs)
	}
	if srv.exit != nil {
		srv.t.Fatalf("the server exited with %v:\n%s", srv.exit, srv.logs)
	}
}

// terminate sends SIGTERM, as systemd stops a service, and returns the
// exit status and how long the server took to exit.
func (srv *server) terminate() (code int, took time.Duration) {
	srv.t.Helper()
	start := time.Now()
	srv.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-srv.done:
	case <-time.After(90 * time.Second):
		srv.kill()
		srv.t.Fatalf("the server did not stop within 90s:\n%s", srv.logs)
	}
	return srv.cmd.ProcessState.ExitCode(), time.Since(start)
}

// getJSON fetches one of the server's JSON endpoints from loopback (which
// may read the detailed health) and returns the status and the document.
func (srv *server) getJSON(path string) (int, map[string]any) {
	srv.t.Helper()
	res, err := http.Get(srv.base + path)
	if err != nil {
		srv.t.Fatal(err)
	}
	defer res.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil {
		srv.t.Fatalf("%s: %v", path, err)
	}
	return res.StatusCode, doc
}

// metrics is one scrape of /metrics.
func (srv *server) metrics() string {
	srv.t.Helper()
	res, err := http.Get(srv.base + "/metrics")
	if err != nil {
		srv.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

// browserSession is a logged-in browser without JavaScript.
type browserSession struct {
	t      *testing.T
	base   string
	client *http.Client
	accID  string
}

func logInAs(t *testing.T, base, email, password string) *browserSession {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	m := &browserSession{t: t, base: base, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	if res := m.post("/login", url.Values{"email": {email}, "password": {password}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	return m
}

func (m *browserSession) post(path string, form url.Values) *http.Response {
	m.t.Helper()
	res, err := m.tryPost(path, form)
	if err != nil {
		m.t.Fatal(err)
	}
	return res
}

func (m *browserSession) tryPost(path string, form url.Values) (*http.Response, error) {
	res, err := m.client.PostForm(m.base+path, form)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res, nil
}

func (m *browserSession) get(path string) string {
	m.t.Helper()
	res, err := m.client.Get(m.base + path)
	if err != nil {
		m.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		m.t.Fatalf("GET %s: %d", path, res.StatusCode)
	}
	return string(b)
}

// addTent creates a tent with 100 beds (as an administrator) and
// remembers its id for the booking form.
func (m *browserSession) addTent() {
	m.t.Helper()
	if res := m.post("/admin/accommodations", url.Values{"name": {"Großes Zelt"}, "kind": {"tent"}, "beds": {"100"}}); res.StatusCode != http.StatusSeeOther {
		m.t.Fatalf("new accommodation: %d", res.StatusCode)
	}
	m.accID = tentOnForm(m)
}

// tentOnForm finds the tent on the booking form (again, after a restart).
func tentOnForm(m *browserSession) string {
	mm := regexp.MustCompile(`name="persons\.(\d+)"`).FindStringSubmatch(m.get("/bookings/new"))
	if mm == nil {
		m.t.Fatal("no accommodation on the booking form")
	}
	return mm[1]
}

// book asks for one night, n days from now, and returns the id of the
// booking when the server acknowledged it (303 to the booking's page).
func (m *browserSession) book(n int) (int64, error) {
	arr := time.Now().In(houseZone).AddDate(0, 0, 1+n%300)
	res, err := m.tryPost("/bookings", url.Values{"arrival": {arr.Format("2006-01-02")}, "departure": {arr.AddDate(0, 0, 1).Format("2006-01-02")},
		"persons." + m.accID: {"1"}})
	if err != nil {
		return 0, err
	}
	loc := res.Header.Get("Location")
	id, perr := strconv.ParseInt(strings.TrimPrefix(loc, "/bookings/"), 10, 64)
	if res.StatusCode != http.StatusSeeOther || perr != nil {
		return 0, fmt.Errorf("booking: %d %q", res.StatusCode, loc)
	}
	return id, nil
}

func (m *browserSession) mustBook(n int) int64 {
	m.t.Helper()
	id, err := m.book(n)
	if err != nil {
		m.t.Fatal(err)
	}
	return id
}

var houseZone = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()

// bookingStatuses reads id → status from a database file, read-only.
func bookingStatuses(t *testing.T, path string) map[int64]string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT id, status FROM bookings`)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer rows.Close()
	m := map[int64]string{}
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			t.Fatal(err)
		}
		m[id] = st
	}
	return m
}

// restorePoints runs "booking restore-points --json".
func (s *site) restorePoints() pointList {
	s.t.Helper()
	var l pointList
	if err := json.Unmarshal([]byte(s.mustRun("restore-points", "--json")), &l); err != nil {
		s.t.Fatal(err)
	}
	if len(l.Points) == 0 {
		s.t.Fatal("no restore points")
	}
	return l
}

type pointList struct {
	Type, Location string
	Window         struct {
		Start     time.Time `json:"start"`
		End       time.Time `json:"end"`
		StartTXID string    `json:"start_txid"`
		EndTXID   string    `json:"end_txid"`
	} `json:"window"`
	Points []struct {
		Time      time.Time `json:"time"`
		LocalTime string    `json:"local_time"`
		TXID      string    `json:"txid"`
		Level     int       `json:"level"`
	}
}

func (l pointList) newest() time.Time { return l.Points[len(l.Points)-1].Time }

// replicaMark is the replica's newest TXID, to wait past with
// waitForReplica after a write.
func replicaMark(t *testing.T, s *site) string {
	t.Helper()
	return s.restorePoints().Window.EndTXID
}

// waitForReplica waits until the replica holds a transaction newer than
// mark (TXIDs, not times: an SFTP server keeps file times to the second).
func waitForReplica(t *testing.T, s *site, mark string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if s.restorePoints().Window.EndTXID > mark {
			return
		}
	}
	t.Fatalf("the replica has nothing newer than TXID %s", mark)
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"booking/store"
)

// The upgrade tests run "booking upgrade" as on the Pi, with the parts of
// systemd it relies on played by real programs: systemd-socket-activate
// (Debian's systemd package) opens the port and holds it for the whole
// test, and svcman (e2e/svcman), started by it, runs the service with that
// socket and stops and starts it when the upgrade asks, as systemctl would.
// Clients keep sending requests through the swap.

var (
	variantsOnce sync.Once
	variants     map[string]string // name → binary
	variantsErr  error
)

// oldSchema is this source's schema version; the "new version" has one more.
var oldSchema, newSchema = store.SchemaVersion(), store.SchemaVersion() + 1

// newSchemaMigration is the migration the "new version" brings, so that
// the upgrade migrates the database as real upgrades do.
const newSchemaMigration = "CREATE TABLE upgrade_probe (id INTEGER PRIMARY KEY) STRICT;\n"

// upgradeBinaries builds, once per test process, svcman and two newer
// versions of the server from a copy of this module with one more
// migration: "1.1.0", and "1.1.0-unhealthy" whose /health/detailed never
// says healthy (a version that migrates, serves and is still broken).
func upgradeBinaries(t *testing.T) map[string]string {
	t.Helper()
	goTool := RequireTool(t, "go", "install Go")
	variantsOnce.Do(func() {
		variants = map[string]string{}
		build := func(name, dir, pkg string, ldflags string) {
			if variantsErr != nil {
				return
			}
			out := filepath.Join(binDir, name)
			start := time.Now()
			// Built as deploy/release.sh builds (static: they also run
			// inside the Pi runbook's chroot; and its build cache serves).
			cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", ldflags, "-o", out, pkg)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if b, err := cmd.CombinedOutput(); err != nil {
				variantsErr = fmt.Errorf("go build %s: %v\n%s", name, err, b)
				return
			}
			t.Logf("built %s in %s", name, time.Since(start).Round(time.Millisecond))
			variants[name] = out
		}
		build("svcman", moduleRoot, "./e2e/svcman", "")
		for _, v := range []struct {
			name, version string
			edit          func(dir string) error
		}{
			{"v2", "1.1.0", nil},
			{"v2-unhealthy", "1.1.0-unhealthy", func(dir string) error {
				return replaceIn(filepath.Join(dir, "handlers", "health.go"), `out["status"] = status`, `out["status"] = "unhealthy"`)
			}},
		} {
			dir, err := copyModule(filepath.Join(binDir, "src-"+v.name))
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, "store", "migrations", "9999_upgrade_probe.sql"), []byte(newSchemaMigration), 0o644)
			}
			if err == nil {
				err = renumberProbe(dir)
			}
			if err == nil && v.edit != nil {
				err = v.edit(dir)
			}
			if err != nil {
				variantsErr = err
				return
			}
			build(v.name, dir, ".", "-s -w -X main.version="+v.version)
		}
	})
	if variantsErr != nil {
		t.Fatal(variantsErr)
	}
	return variants
}

// copyModule copies the module's source (no .git, data or build output).
func copyModule(to string) (string, error) {
	err := filepath.WalkDir(moduleRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(moduleRoot, p)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "data", "dist", "testdata", "node_modules":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if !d.Type().IsRegular() || strings.HasSuffix(p, ".test") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	return to, err
}

// renumberProbe names the extra migration after the module's last one.
func renumberProbe(dir string) error {
	mig := filepath.Join(dir, "store", "migrations")
	entries, err := os.ReadDir(mig)
	if err != nil {
		return err
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "9999_") {
			n++
		}
	}
	return os.Rename(filepath.Join(mig, "9999_upgrade_probe.sql"), filepath.Join(mig, fmt.Sprintf("%04d_upgrade_probe.sql", n+1)))
}

func replaceIn(path, old, new string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), old) {
		return fmt.Errorf("%s no longer contains %q: update the upgrade test", path, old)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

// appliance is a site served as on the Pi: an installed binary, run by
// svcman under systemd-socket-activate on a loopback port.
type appliance struct {
	*site
	bin    string // the installed binary ("/usr/local/bin/booking")
	ctl    string // svcman's folder
	svcman string
	base   string
	holder *exec.Cmd
	v1     string // the installed version
}

func newAppliance(t *testing.T) *appliance {
	t.Helper()
	activate := RequireTool(t, "systemd-socket-activate", "apt-get install systemd")
	bins := upgradeBinaries(t)
	a := &appliance{site: newSite(t, nil), svcman: bins["svcman"]}
	a.ctl = filepath.Join(a.dir, "svcman")
	os.Mkdir(a.ctl, 0o755)
	os.Mkdir(filepath.Join(a.dir, "bin"), 0o755)
	a.bin = filepath.Join(a.dir, "bin", "booking")
	if err := copyFile(binary(t), a.bin); err != nil {
		t.Fatal(err)
	}
	a.v1 = binaryVersion(t, a.bin)
	a.addAdmin()
	addr := FreePort(t)
	a.base = "http://" + addr
	a.holder = exec.Command(activate, "-l", addr, a.svcman, "-dir", a.ctl, "run", "--", a.bin, "serve", "-base-url", a.base)
	a.holder.Dir = a.dir
	a.holder.Stdout, a.holder.Stderr = os.Stderr, os.Stderr
	if err := a.holder.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.holder.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { a.holder.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(70 * time.Second):
			a.holder.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(a.ctl, "service.log"))
			t.Logf("service log:\n%s", b)
		}
	})
	a.waitVersion(t, a.v1, 30*time.Second)
	return a
}

// upgrade runs "booking upgrade ARGS" with the installed binary, as an
// administrator would, with svcman in place of systemctl.
func (a *appliance) upgrade(t *testing.T, timeout time.Duration, args ...string) (string, int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	full := append([]string{"upgrade", "-bin", a.bin, "-url", a.base, "-timeout", timeout.String(),
		"-systemctl", a.svcman + " -dir " + a.ctl}, args...)
	cmd := exec.CommandContext(ctx, a.bin, full...)
	cmd.Dir = a.dir
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("booking %s: exit %d after %s\n%s", strings.Join(full, " "), code, took.Round(time.Millisecond), out)
	return string(out), code, took
}

type detailed struct{ Status, Version string }

func (a *appliance) health(t *testing.T) (detailed, error) {
	t.Helper()
	var h detailed
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(a.base + "/health/detailed")
	if err != nil {
		return h, err
	}
	defer res.Body.Close()
	return h, json.NewDecoder(res.Body).Decode(&h)
}

func (a *appliance) waitVersion(t *testing.T, version string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		h, err := a.health(t)
		if err == nil && h.Version == version && h.Status == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(a.ctl, "service.log"))
			t.Fatalf("version %s is not healthy (%+v, %v):\n%s", version, h, err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func binaryVersion(t *testing.T, bin string) string {
	t.Helper()
	out, err := exec.Command(bin, "version").Output()
	m := regexp.MustCompile(`^booking (\S+) `).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("%s version: %v %q", bin, err, out)
	}
	return string(m[1])
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o755)
}

// traffic is members using the site during an upgrade: readers load the
// booking form (a database read and a page), writers book. Every request
// is recorded with its time and outcome.
type traffic struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	reqs []request
	acks []int64
}

type request struct {
	start time.Time
	took  time.Duration
	err   string // "" when it got the answer it should
}

func startTraffic(t *testing.T, m *browserSession, readers, writers int) *traffic {
	m.client.Timeout = 2 * time.Minute // queued in the socket through a rollback, not failed
	tr := &traffic{stop: make(chan struct{})}
	var n int64
	var nmu sync.Mutex
	worker := func(write bool) {
		defer tr.wg.Done()
		for {
			select {
			case <-tr.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			var problem string
			if write {
				nmu.Lock()
				n++
				k := n
				nmu.Unlock()
				id, err := m.book(int(k))
				if err != nil {
					problem = err.Error()
				} else {
					tr.mu.Lock()
					tr.acks = append(tr.acks, id)
					tr.mu.Unlock()
				}
			} else {
				res, err := m.client.Get(m.base + "/bookings/new")
				if err != nil {
					problem = err.Error()
				} else {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						problem = fmt.Sprintf("GET /bookings/new: %d", res.StatusCode)
					}
				}
			}
			tr.mu.Lock()
			tr.reqs = append(tr.reqs, request{start, time.Since(start), problem})
			tr.mu.Unlock()
		}
	}
	for i := range readers + writers {
		tr.wg.Add(1)
		go worker(i >= readers)
	}
	return tr
}

// finish stops the clients and sums up the requests that started in
// [from, to]: how many, how many failed (with the first few errors), the
// longest.
func (tr *traffic) finish() (acks []int64, sum trafficSummary) {
	close(tr.stop)
	tr.wg.Wait()
	for _, r := range tr.reqs {
		sum.total++
		if r.err != "" {
			sum.failed++
			if len(sum.errors) < 5 {
				sum.errors = append(sum.errors, r.err)
			}
		}
		if r.took > sum.longest {
			sum.longest = r.took
		}
	}
	return tr.acks, sum
}

type trafficSummary struct {
	total, failed int
	longest       time.Duration
	errors        []string
}

// bookingIDs reads the booking ids of a database file.
func bookingIDs(t *testing.T, path string) map[int64]bool {
	t.Helper()
	ids := map[int64]bool{}
	for id := range bookingStatuses(t, path) {
		ids[id] = true
	}
	return ids
}

func keys(m map[int64]bool) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	return out
}

func missing(acks []int64, in ...map[int64]bool) []int64 {
	var out []int64
	for _, id := range acks {
		found := false
		for _, m := range in {
			found = found || m[id]
		}
		if !found {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

var tookLine = regexp.MustCompile(`Rolled back to \S+ in (\S+);`)

// TestUpgradeWithoutDowntime upgrades a running server to a new version
// that migrates the database, while members keep loading pages and
// booking: not one request may fail or be refused. Then the old binary
// refuses the migrated database, and "upgrade --rollback" goes back to the
// old version and its database.
func TestUpgradeWithoutDowntime(t *testing.T) {
	a := newAppliance(t)
	bins := upgradeBinaries(t)
	m := logInAs(t, a.base, adminEmail, adminPassword)
	m.addTent()
	before := []int64{m.mustBook(1), m.mustBook(2)}

	tr := startTraffic(t, m, 2, 2)
	time.Sleep(time.Second) // traffic before the swap, too
	out, code, took := a.upgrade(t, time.Minute, bins["v2"])
	time.Sleep(time.Second)
	acks, sum := tr.finish()
	if code != 0 || !strings.Contains(out, "Upgraded to 1.1.0") {
		t.Fatalf("upgrade: exit %d\n%s", code, out)
	}
	t.Logf("UPGRADE: %d requests during %s around an upgrade of %s; %d failed; longest %s",
		sum.total, (took + 2*time.Second).Round(time.Millisecond), took.Round(time.Millisecond), sum.failed, sum.longest.Round(time.Millisecond))
	if sum.failed > 0 || sum.total == 0 {
		t.Errorf("%d of %d requests failed during the upgrade: %v", sum.failed, sum.total, sum.errors)
	}
	if h, err := a.health(t); err != nil || h.Version != "1.1.0" || h.Status != "healthy" {
		t.Errorf("after the upgrade: %+v %v", h, err)
	}
	if got := strings.TrimSpace(a.mustRun("check-config", "--schema")); got != fmt.Sprint(newSchema) {
		t.Errorf("schema after the upgrade: %s, want %d (the new version migrates)", got, newSchema)
	}
	live := bookingIDs(t, a.dbPath())
	if lost := missing(append(before, acks...), live); len(lost) > 0 {
		t.Errorf("acknowledged bookings missing after the upgrade: %v", lost)
	}
	if v := binaryVersion(t, a.bin+".previous"); v != a.v1 {
		t.Errorf("%s.previous is %s, want %s", a.bin, v, a.v1)
	}
	backups, _ := filepath.Glob(filepath.Join(a.dir, "data", "upgrades", "booking-*.db"))
	if len(backups) != 1 {
		t.Fatalf("copies in data/upgrades: %v", backups)
	}
	// The copy was made with the service stopped: every booking
	// acknowledged before the swap is in it.
	copied := bookingIDs(t, backups[0])
	if lost := missing(before, copied); len(lost) > 0 {
		t.Errorf("the pre-upgrade copy lacks %v", lost)
	}

	// Bookings under the new version, which a rollback to the copy sets
	// aside.
	after := []int64{m.mustBook(40), m.mustBook(41)}

	// Schema safety: the old binary refuses the migrated database, naming
	// both versions and the way back.
	ctl := exec.Command(a.svcman, "-dir", a.ctl, "stop", "booking.service")
	if out, err := ctl.CombinedOutput(); err != nil {
		t.Fatalf("svcman stop: %v %s", err, out)
	}
	cmd := exec.Command(a.bin+".previous", "serve", "-addr", "127.0.0.1:0")
	cmd.Dir = a.dir
	refusal, err := cmd.CombinedOutput()
	for _, want := range []string{fmt.Sprintf("schema version %d", newSchema), fmt.Sprintf("up to %d", oldSchema), fmt.Sprintf("database_schema=%d", newSchema),
		fmt.Sprintf("this_schema=%d", oldSchema), "this_version=" + a.v1, "sudo booking upgrade --rollback"} {
		if !strings.Contains(string(refusal), want) {
			t.Errorf("the old binary on the migrated database (%v) does not say %q:\n%s", err, want, refusal)
		}
	}
	if out, err := exec.Command(a.svcman, "-dir", a.ctl, "start", "booking.service").CombinedOutput(); err != nil {
		t.Fatalf("svcman start: %v %s", err, out)
	}
	a.waitVersion(t, "1.1.0", 30*time.Second)

	out, code, took = a.upgrade(t, time.Minute, "-rollback")
	if code == 0 || !strings.Contains(out, "-rollback --restore-backup") {
		t.Fatalf("rollback over a migrated database must ask for -restore-backup: exit %d\n%s", code, out)
	}
	out, code, took = a.upgrade(t, time.Minute, "-rollback", "-restore-backup")
	if code != 0 || !strings.Contains(out, "put back the copy from before the upgrade") {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	t.Logf("ROLLBACK on demand took %s", took.Round(time.Millisecond))
	a.waitVersion(t, a.v1, 5*time.Second)
	// The database is the pre-upgrade copy again; everything since is in
	// the migrated database, set aside.
	restored := bookingIDs(t, a.dbPath())
	if len(restored) != len(copied) || len(missing(keys(copied), restored)) > 0 {
		t.Errorf("after the rollback the database holds %d bookings, the pre-upgrade copy %d", len(restored), len(copied))
	}
	asides, _ := filepath.Glob(a.dbPath() + ".before-restore-*")
	if len(asides) != 1 {
		t.Fatalf("the migrated database was not set aside: %v", asides)
	}
	if lost := missing(append(append(before, acks...), after...), bookingIDs(t, filepath.Join(asides[0], "booking.db"))); len(lost) > 0 {
		t.Errorf("acknowledged bookings are not in the set-aside database: %v", lost)
	}
	// Life goes on, and replication with it.
	m.mustBook(50)
	if out, errOut, code := a.run("", "verify-backup"); code != 0 {
		t.Errorf("verify-backup after the rollback: %d\n%s%s", code, out, errOut)
	}
}

// TestUpgradeRollsBackABrokenVersion gives the upgrade two broken new
// versions: one that exits at start, and one that migrates the database and
// serves but never becomes healthy. Both are rolled back by themselves, the
// bookings intact.
func TestUpgradeRollsBackABrokenVersion(t *testing.T) {
	bins := upgradeBinaries(t)
	exitsAtStart := filepath.Join(t.TempDir(), "booking-broken")
	script := fmt.Sprintf("#!/bin/sh\n# A new version that exits at start.\nif [ \"$1\" = version ]; then echo 'booking 1.1.1-broken (go1, %s/%s, schema %d)'; exit 0; fi\necho 'broken on purpose' >&2\nexit 1\n",
		runtime.GOOS, runtime.GOARCH, newSchema)
	if err := os.WriteFile(exitsAtStart, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, bin string
		migrates  bool
	}{
		{"exits at start", exitsAtStart, false},
		{"migrates but never healthy", bins["v2-unhealthy"], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAppliance(t)
			m := logInAs(t, a.base, adminEmail, adminPassword)
			m.addTent()
			before := []int64{m.mustBook(1), m.mustBook(2)}
			tr := startTraffic(t, m, 1, 1)
			time.Sleep(500 * time.Millisecond)
			out, code, _ := a.upgrade(t, 8*time.Second, tc.bin)
			acks, sum := tr.finish()
			if code != 1 || !strings.Contains(out, "rolled back to "+a.v1) {
				t.Fatalf("a broken upgrade: exit %d\n%s", code, out)
			}
			mt := tookLine.FindStringSubmatch(out)
			if mt == nil {
				t.Fatalf("no rollback time in:\n%s", out)
			}
			t.Logf("ROLLBACK (%s) took %s; %d requests meanwhile, %d failed %q, longest %s",
				tc.name, mt[1], sum.total, sum.failed, sum.errors, sum.longest.Round(time.Millisecond))
			if h, err := a.health(t); err != nil || h.Version != a.v1 || h.Status != "healthy" {
				t.Errorf("after the rollback: %+v %v", h, err)
			}
			if v := binaryVersion(t, a.bin); v != a.v1 {
				t.Errorf("the installed binary is %s after the rollback", v)
			}
			if got := strings.TrimSpace(a.mustRun("check-config", "--schema")); got != fmt.Sprint(oldSchema) {
				t.Errorf("schema after the rollback: %s", got)
			}
			live := bookingIDs(t, a.dbPath())
			asides, _ := filepath.Glob(a.dbPath() + ".before-restore-*")
			if tc.migrates != (len(asides) == 1) || strings.Contains(out, "put back the copy") != tc.migrates {
				t.Errorf("migrated %v, but set aside %v:\n%s", tc.migrates, asides, out)
			}
			// Every booking acknowledged is in the database, or, if the
			// broken version acknowledged it after migrating, in the
			// database set aside; none acknowledged by the old version is
			// only there (the copy is made with the service stopped).
			var aside map[int64]bool
			if len(asides) == 1 {
				aside = bookingIDs(t, filepath.Join(asides[0], "booking.db"))
			}
			if lost := missing(append(before, acks...), live, aside); len(lost) > 0 {
				t.Errorf("acknowledged bookings lost: %v", lost)
			}
			if lost := missing(before, live); len(lost) > 0 {
				t.Errorf("bookings from before the upgrade lost: %v", lost)
			}
			m.mustBook(60)
			if out, errOut, code := a.run("", "verify-backup"); code != 0 {
				t.Errorf("verify-backup after the rollback: %d\n%s%s", code, out, errOut)
			}
		})
	}
}

package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// dataFile is a file in the site's data folder.
func (s *site) dataFile(name string) string { return filepath.Join(s.dir, "data", name) }

// newestBackup restores the replica's newest state into a new file and
// returns its bookings.
func (s *site) newestBackup(t *testing.T) map[int64]string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "newest.db")
	s.mustRun("restore", "-o", out)
	return bookingStatuses(t, out)
}

func sameKeys(a, b map[int64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// TestUnusableDatabaseNeverReplicatedOverTheBackup is issue 10's first
// finding with the real binary: bookings made, the server stopped, then
// the database file truncated to zero (or gone), with and without its
// -wal. The server must never start empty and carry the replica's history
// on with nothing in it: with a -wal beside the file it refuses and says
// which command restores; without one it restores the newest state itself,
// loudly, moving the bad files aside.
func TestUnusableDatabaseNeverReplicatedOverTheBackup(t *testing.T) {
	usb := filepath.Join(t.TempDir(), "usb")
	s := newSite(t, func(yml string) string {
		return strings.Replace(yml, "path: data/replica", "path: "+filepath.Join(usb, "booking"), 1)
	})
	s.addAdmin()
	srv := s.start()
	m := logInAs(t, srv.base, adminEmail, adminPassword)
	m.addTent()
	for i := range 30 {
		m.mustBook(i)
	}
	srv.stop()
	want := bookingStatuses(t, s.dbPath())
	if len(want) != 30 || !sameKeys(s.newestBackup(t), want) {
		t.Fatalf("before the test: %d bookings on disk, the replica has %d", len(want), len(s.newestBackup(t)))
	}
	wal, err := os.Stat(s.dataFile("booking.db-wal"))
	if err != nil || wal.Size() <= 32 {
		t.Fatalf("a clean stop left no -wal with pages: %v", err)
	}
	mark := s.restorePoints().Window.EndTXID

	// 1. "truncate -s 0 data/booking.db" with the -wal beside it: refused,
	// nothing touched, the replica exactly as it was.
	if err := os.Truncate(s.dbPath(), 0); err != nil {
		t.Fatal(err)
	}
	out := s.startRefused()
	for _, w := range []string{"REFUSING TO START", "is empty (0 bytes)", "booking.db-wal", "booking restore --replace", "Nothing was changed"} {
		if !strings.Contains(out, w) {
			t.Errorf("the refusal does not say %q:\n%s", w, out)
		}
	}
	t.Logf("what the administrator sees:\n%s", out)
	if fi, err := os.Stat(s.dataFile("booking.db-wal")); err != nil || fi.Size() != wal.Size() {
		t.Errorf("the -wal was touched: %v", err)
	}
	if end := s.restorePoints().Window.EndTXID; end != mark {
		t.Errorf("the replica moved on from %s to %s although the server refused", mark, end)
	}

	// What the refusal says to do brings every booking back.
	out = s.mustRun("restore", "--replace")
	if !regexp.MustCompile(`bookings:\s+30\n`).MatchString(out) {
		t.Errorf("restore --replace: %s", out)
	}
	srv = s.start()
	srv.stop()
	if got := bookingStatuses(t, s.dbPath()); !sameKeys(got, want) {
		t.Errorf("after restore --replace: %d bookings, want %d", len(got), len(want))
	}

	// 2. and 3. Empty, and missing, without a -wal (the card lost it, or an
	// administrator deleted it): the server restores by itself, loudly,
	// and the replica's newest state still holds every booking.
	for _, c := range []struct {
		name, log string
		wreck     func() error
	}{
		{"empty", "THE DATABASE FILE WAS EMPTY (0 BYTES): RESTORED IT FROM THE REPLICA", func() error { return os.Truncate(s.dbPath(), 0) }},
		{"missing", "THE DATABASE WAS MISSING: RESTORED IT FROM THE REPLICA", func() error { return os.Remove(s.dbPath()) }},
	} {
		// First with the -wal still there: refused.
		if err := c.wreck(); err != nil {
			t.Fatal(err)
		}
		if out := s.startRefused(); !strings.Contains(out, "REFUSING TO START") || !strings.Contains(out, "booking.db-wal") {
			t.Errorf("%s with a -wal: not refused:\n%s", c.name, out)
		}
		os.Remove(s.dataFile("booking.db-wal"))
		os.Remove(s.dataFile("booking.db-shm"))
		srv = s.start()
		logs := srv.logs.String()
		if !strings.Contains(logs, c.log) || !strings.Contains(logs, "moved_aside=") {
			t.Errorf("%s: the restore was not logged loudly:\n%s", c.name, logs)
		}
		t.Logf("%s: what the administrator sees:\n%s", c.name, logs)
		// A few syncs later the replica's newest state is still complete.
		m = logInAs(t, srv.base, adminEmail, adminPassword)
		m.accID = tentOnForm(m)
		extra := m.mustBook(100)
		srv.stop()
		got := s.newestBackup(t)
		want[extra] = "pending"
		if !sameKeys(got, want) {
			t.Errorf("%s: the replica's newest state has %d bookings, want %d", c.name, len(got), len(want))
		}
	}
}

// A second server whose litestream.yml reaches the first one's database
// through a symbolic link must not start: two Litestreams on one file
// fight over its -wal.
func TestSecondServerThroughSymlinkRefused(t *testing.T) {
	s := newSite(t, nil)
	srv := s.start()
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(s.dbPath(), link); err != nil {
		t.Fatal(err)
	}
	other := newSite(t, func(yml string) string { return strings.Replace(yml, "path: data/booking.db", "path: "+link, 1) })
	out := other.startRefused()
	if !strings.Contains(out, `booking serve`) || !strings.Contains(out, "is using the database "+s.dbPath()) {
		t.Errorf("the second server does not say who holds the database:\n%s", out)
	}
	srv.stop()
}

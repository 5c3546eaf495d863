package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/superfly/ltx"

	"booking/store"
)

func TestRestoreIfMissing(t *testing.T) {
	ctx := context.Background()
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))

	// An empty replica and no database: the first start, nothing to do.
	fresh := filepath.Join(t.TempDir(), "booking.db")
	if res, err := RestoreIfMissing(ctx, fresh, cfg); res != nil || err != nil {
		t.Fatalf("empty replica: %v %v", res, err)
	}

	r := newReplicated(t, cfg)
	ids := r.writeBookings(t, 5, 0)
	r.close(t)
	// The database exists: nothing to do.
	if res, err := RestoreIfMissing(ctx, r.dbPath, cfg); res != nil || err != nil {
		t.Fatalf("existing database: %v %v", res, err)
	}
	// The card died but left Litestream's folder and a -wal around (the
	// worst case: SQLite would replay that -wal into the restored file).
	for _, suffix := range []string{"", "-shm"} {
		os.Remove(r.dbPath + suffix)
	}
	os.WriteFile(r.dbPath+"-wal", []byte("stale wal"), 0o640)
	res, err := RestoreIfMissing(ctx, r.dbPath, cfg)
	if err != nil || res == nil {
		t.Fatalf("restore: %v %v", res, err)
	}
	if _, err := os.Stat(r.dbPath + "-wal"); err == nil {
		t.Error("the stale -wal is still next to the restored database")
	}
	matches, _ := filepath.Glob(r.dbPath + ".before-restore-*/.booking.db-litestream")
	if len(matches) != 1 {
		t.Errorf("Litestream's old folder was not moved aside: %v", matches)
	}
	if got := bookingIDs(t, r.dbPath); !slices.Equal(got, ids) {
		t.Errorf("restored bookings %v, want %v", got, ids)
	}

	// Missing database, unreachable replica: refuse rather than start empty.
	gone := filepath.Join(t.TempDir(), "booking.db")
	if _, err := RestoreIfMissing(ctx, gone, unreachableSFTP()); err == nil || !strings.Contains(err.Error(), "cannot be restored") {
		t.Errorf("unreachable replica: %v", err)
	}
}

// The runbook's "I cancelled the wrong booking": stop the server, replace
// the database with its state before the mistake, start again. The old
// database is moved aside, and after the restart the replica's newest
// state is the restored one plus what came after.
func TestReplaceDatabase(t *testing.T) {
	ctx := context.Background()
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
	r := newReplicated(t, cfg)
	a := r.writeBookings(t, 4, 0)
	r.sync(t)
	before := time.Now()
	time.Sleep(20 * time.Millisecond)
	wrong := r.writeBookings(t, 3, 0) // the mistake
	r.sync(t)

	// While the server holds the lock, there is no replacing.
	serving, err := LockDatabase(r.dbPath, "serve")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LockDatabase(r.dbPath, "restore --replace"); !errors.Is(err, ErrDatabaseInUse) ||
		!strings.Contains(err.Error(), fmt.Sprintf(`"booking serve" (pid %d)`, os.Getpid())) {
		t.Errorf("lock while serving: %v", err)
	}
	r.close(t)
	serving.Release()

	lock, err := LockDatabase(r.dbPath, "restore --replace")
	if err != nil {
		t.Fatal(err)
	}
	res, err := ReplaceDatabase(ctx, lock, cfg, RestoreOptions{Timestamp: before})
	lock.Release()
	if err != nil {
		t.Fatal(err)
	}
	if got := bookingIDs(t, r.dbPath); !slices.Equal(got, a) {
		t.Errorf("replaced database: bookings %v, want %v", got, a)
	}
	if res.MovedAside == "" {
		t.Fatal("nothing moved aside")
	}
	if got := bookingIDs(t, filepath.Join(res.MovedAside, "booking.db")); !slices.Equal(got, slices.Concat(a, wrong)) {
		t.Errorf("the moved-aside database: %v", got)
	}
	if _, err := os.Stat(filepath.Join(res.MovedAside, ".booking.db-litestream")); err != nil {
		t.Errorf("Litestream's folder not moved aside: %v", err)
	}

	// Serve again: Litestream notices the database is behind the replica
	// and continues the history from the restored state.
	f2, err := store.Open(ctx, r.dbPath, store.Options{Now: fixedClock, TimeZone: r.s.Settings().Location()})
	if err != nil {
		t.Fatal(err)
	}
	rep2, err := StartReplication(ctx, r.dbPath, cfg)
	if err != nil {
		t.Fatal(err)
	}
	after, err := r.bookTent(ctx, f2, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	syncNow(t, rep2)
	f2.Close()
	if err := rep2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	latest, err := Restore(ctx, cfg, RestoreOptions{OutputPath: filepath.Join(t.TempDir(), "latest.db")})
	if err != nil {
		t.Fatal(err)
	}
	if got := bookingIDs(t, latest.Path); !slices.Equal(got, append(slices.Clone(a), after.ID)) {
		t.Errorf("newest state after the replace: %v, want %v + %d", got, a, after.ID)
	}
}

func TestParseRestoreTime(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for in, want := range map[string]time.Time{
		"2026-11-20 18:00":          time.Date(2026, 11, 20, 18, 0, 0, 0, berlin),
		"2026-11-20 18:00:05":       time.Date(2026, 11, 20, 18, 0, 5, 0, berlin),
		"2026-07-20T18:00":          time.Date(2026, 7, 20, 18, 0, 0, 0, berlin),
		"2026-11-20T17:00:00Z":      time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC),
		"2026-11-20T18:00:00+01:00": time.Date(2026, 11, 20, 17, 0, 0, 0, time.UTC),
	} {
		got, err := ParseRestoreTime(in, berlin)
		if err != nil || !got.Equal(want) {
			t.Errorf("%q: %s %v, want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "20.11.2026 18:00", "2026-11-20"} {
		if _, err := ParseRestoreTime(bad, berlin); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	for in, want := range map[string]uint64{"0000000000000012": 0x12, "12": 0x12, "0x1f": 0x1f} {
		if got, err := ParseTXID(in); err != nil || got != want {
			t.Errorf("ParseTXID(%q) = %d %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0", "xyz", "-1"} {
		if _, err := ParseTXID(bad); err == nil {
			t.Errorf("ParseTXID(%q) accepted", bad)
		}
	}
	if FormatTXID(0x12) != "0000000000000012" {
		t.Error(FormatTXID(0x12))
	}
}

func TestRestorePointsOf(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(1_800_000_000+int64(s), 0) }
	f := func(level int, minTX, maxTX uint64, s int) *ltx.FileInfo {
		return &ltx.FileInfo{Level: level, MinTXID: ltx.TXID(minTX), MaxTXID: ltx.TXID(maxTX), CreatedAt: at(s)}
	}
	points, gap := restorePointsOf([]*ltx.FileInfo{
		f(9, 1, 10, 100), // snapshot made later than TXID 10 itself
		f(1, 1, 10, 10), f(1, 11, 20, 20),
		f(0, 19, 19, 19), f(0, 20, 20, 20), f(0, 21, 21, 21),
		f(0, 23, 23, 23), // 22 was lost: a hole
	})
	var got []string
	for _, p := range points {
		got = append(got, fmt.Sprintf("%d@L%d", p.TXID, p.Level))
	}
	// 19 needs 18, which no file ends at, so L0's 20 cannot be reached
	// either: L1 reaches 20 from 10. 21 continues from there.
	want := []string{"10@L1", "20@L1", "21@L0"}
	if !slices.Equal(got, want) {
		t.Errorf("points %v, want %v", got, want)
	}
	if gap != 23 {
		t.Errorf("gap %d, want 23", gap)
	}
	if w := windowOf(points); !w.Start.Equal(at(10)) || !w.End.Equal(at(21)) || w.EndTXID != 21 {
		t.Errorf("window %+v", w)
	}
}

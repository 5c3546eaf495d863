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

	res := replaceDatabase(t, r.dbPath, cfg, RestoreOptions{Timestamp: before})
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

// Issue 10, item 9: a restore that loses the last bookings must not hand
// their ids out again: a mail or a saved link points at them.
func TestRestoreNeverReusesBookingIDs(t *testing.T) {
	ctx := context.Background()
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
	r := newReplicated(t, cfg)
	kept := r.writeBookings(t, 3, 0)
	r.sync(t)
	before := time.Now()
	time.Sleep(20 * time.Millisecond)
	lost := r.writeBookings(t, 2, 0) // made after the point restored below
	r.sync(t)
	r.close(t)

	res := replaceDatabase(t, r.dbPath, cfg, RestoreOptions{Timestamp: before})
	if got := bookingIDs(t, r.dbPath); !slices.Equal(got, kept) {
		t.Fatalf("restored %v, want %v", got, kept)
	}
	next := func() int64 {
		t.Helper()
		s, err := store.Open(ctx, r.dbPath, store.Options{Now: fixedClock, TimeZone: berlinZone})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		b, err := r.bookTent(ctx, s, 5, 6)
		if err != nil {
			t.Fatal(err)
		}
		return b.ID
	}
	id := next()
	if id <= lost[len(lost)-1] {
		t.Errorf("after a restore that lost bookings %v, the next booking got id %d", lost, id)
	}
	if res.BookingIDsFrom != id {
		t.Errorf("the restore said ids continue from %d, the next booking got %d", res.BookingIDsFrom, id)
	}

	// The card dies: nothing tells which ids the last, unreplicated
	// bookings had. The margin keeps them clear.
	dir := filepath.Dir(r.dbPath)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
	sr, err := RestoreIfUnusable(ctx, r.dbPath, cfg)
	if err != nil || sr == nil || sr.Restored == nil {
		t.Fatalf("restore after the card died: %+v %v", sr, err)
	}
	ids := bookingIDs(t, r.dbPath)
	if got := next(); got < ids[len(ids)-1]+BookingIDMargin {
		t.Errorf("after the card died the next id is %d, the restored database's highest %d", got, ids[len(ids)-1])
	}
}

// replaceDatabase does what "booking restore --replace" does: take the lock,
// restore over the database, give the lock back.
func replaceDatabase(t *testing.T, dbPath string, cfg ReplicaConfig, opt RestoreOptions) *ReplaceResult {
	t.Helper()
	lock, err := LockDatabase(dbPath, "restore --replace")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	res, err := ReplaceDatabase(context.Background(), lock, cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

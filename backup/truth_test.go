package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// waitFor polls cond every 10ms until it holds or d has passed, and
// returns how long it took.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// While the replica cannot be written, Status says so and the error
// counter by reason rises; once it can be written again, Status is clean
// within a sync interval or so, although Litestream itself backs off for
// up to 5 minutes. (Litestream's own sync counters keep counting local
// syncs as successes all along.)
func TestReplicationStatusFollowsTheReplica(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "replica")
	cfg := fileReplica(dir) // sync interval 100ms
	r := newReplicated(t, cfg)
	r.writeBookings(t, 2, 0)
	r.sync(t)
	if st := r.rep.Status(); st.Failing || st.Errors["not_writable"] != 0 {
		t.Fatalf("a healthy start: %+v", st)
	}

	// The backup disk goes away: its mount point is not a folder any more.
	away := dir + ".away"
	if err := os.Rename(dir, away); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dir, []byte("not a folder"), 0o640)
	lost := r.writeBookings(t, 1, 0)
	took := waitFor(t, 2*time.Second, "failing", func() bool { return r.rep.Status().Failing })
	t.Logf("failing noticed after %s", took)
	st := r.rep.Status()
	if st.Errors["not_writable"] == 0 || !strings.Contains(st.LastError, "cannot be written") || st.FailingSince.IsZero() {
		t.Errorf("while failing: %+v", st)
	}
	// It stays failing while the replica stays broken, however long
	// Litestream's back-off is.
	time.Sleep(time.Second)
	if st := r.rep.Status(); !st.Failing || st.Errors["not_writable"] < 2 {
		t.Errorf("after a second of failing: %+v", st)
	}

	// The disk is back.
	os.Remove(dir)
	if err := os.Rename(away, dir); err != nil {
		t.Fatal(err)
	}
	took = waitFor(t, 2*time.Second, "recovered", func() bool { return !r.rep.Status().Failing })
	t.Logf("recovery noticed after %s", took)
	if took > 5*cfg.SyncInterval+300*time.Millisecond {
		t.Errorf("recovery took %s, the sync interval is %s", took, cfg.SyncInterval)
	}
	r.close(t)
	res, err := Restore(context.Background(), cfg, RestoreOptions{OutputPath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	if got := bookingIDs(t, res.Path); !slices.Contains(got, lost[0]) {
		t.Errorf("the booking made during the outage did not reach the replica: %v", got)
	}
}

// A Litestream folder says how far this database got; a replica that is
// further along was written by someone else (a second Pi, an old copy of
// the data folder). Starting would make this database the replica's
// newest state: the replica would go backwards without anyone asking.
func TestReplicationRefusesAReplicaThatIsAhead(t *testing.T) {
	ctx := context.Background()
	shared := fileReplica(filepath.Join(t.TempDir(), "replica"))
	a := newReplicated(t, shared)
	want := a.writeBookings(t, 6, 0)
	a.sync(t)
	a.close(t)

	// Another database that replicated a little to its own replica.
	b := newReplicated(t, fileReplica(filepath.Join(t.TempDir(), "other")))
	b.close(t)
	cfg := shared
	cfg.FirstSyncTimeout = 3 * time.Second
	rep, err := StartReplication(ctx, b.dbPath, cfg)
	if err == nil {
		rep.Close(ctx)
		t.Fatal("replication started over a replica that is ahead")
	}
	if !errors.Is(err, ErrReplicaAhead) || !strings.Contains(err.Error(), "booking restore --replace") {
		t.Errorf("error: %v", err)
	}
	res, err := Restore(ctx, shared, RestoreOptions{OutputPath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	if got := bookingIDs(t, res.Path); !slices.Equal(got, want) {
		t.Errorf("the shared replica's newest state: %v, want %v", got, want)
	}
}

// Halt (the database was found damaged) stops shipping at once, without a
// final sync: whatever comes later never reaches the replica, whose newest
// state stays the last one shipped before.
func TestHaltStopsShipping(t *testing.T) {
	ctx := context.Background()
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
	r := newReplicated(t, cfg)
	shipped := r.writeBookings(t, 2, 0)
	r.sync(t)
	r.rep.Halt("the database file is damaged: test")
	r.writeBookings(t, 2, 0)
	time.Sleep(5 * cfg.SyncInterval)
	if st := r.rep.Status(); st.Stopped != "the database file is damaged: test" {
		t.Errorf("status after Halt: %+v", st)
	}
	r.once.Do(func() {
		r.s.Close()
		if err := r.rep.Close(ctx); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("Close after Halt: %v", err)
		}
	})
	res, err := Restore(ctx, cfg, RestoreOptions{OutputPath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	if got := bookingIDs(t, res.Path); !slices.Equal(got, shipped) {
		t.Errorf("the replica's newest state: %v, want only %v", got, shipped)
	}

	// Damaged before replication began: it never starts.
	nr := NotReplicating(r.dbPath, cfg, "damaged from the start")
	if st := nr.Status(); st.Stopped != "damaged from the start" || st.Location != cfg.Location {
		t.Errorf("NotReplicating: %+v", st)
	}
	if err := nr.Close(ctx); err == nil {
		t.Error("NotReplicating closed without an error")
	}
}

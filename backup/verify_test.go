package backup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"booking/store"
)

func TestVerify(t *testing.T) {
	ctx := context.Background()
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
	r := newReplicated(t, cfg)
	r.writeBookings(t, 3, 0)
	r.sync(t)

	// While serving, in step.
	rep, err := Verify(ctx, r.dbPath, cfg, VerifyOptions{})
	if err != nil || rep.Verdict != VerdictOK || len(rep.Differences) != 0 {
		t.Fatalf("in step: %+v %v", rep, err)
	}
	if rep.Backup.Bookings != 3 || rep.Live.Bookings != 3 {
		t.Errorf("counts: backup %d live %d", rep.Backup.Bookings, rep.Live.Bookings)
	}

	// Replication stops; the server goes on writing (say, a replica that
	// is gone). Within the allowed lag that is "on its way"; beyond it,
	// stale.
	r.close(t)
	s2, err := store.Open(ctx, r.dbPath, store.Options{Now: fixedClock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.bookTent(ctx, s2, 5, 6); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	rep, err = Verify(ctx, r.dbPath, cfg, VerifyOptions{})
	if err != nil || rep.Verdict != VerdictOK || !slices.ContainsFunc(rep.Differences, func(d string) bool { return strings.HasPrefix(d, "bookings: 3 rows in the backup, 4 live") }) {
		t.Errorf("fresh change: %+v %v", rep, err)
	}
	rep, err = Verify(ctx, r.dbPath, cfg, VerifyOptions{MaxLag: time.Nanosecond})
	if err != nil || rep.Verdict != VerdictStale || !strings.Contains(rep.Reason, "lacks") {
		t.Errorf("stale: %+v %v", rep, err)
	}
	t.Log(rep.Reason)

	// A damaged replica file: broken.
	l1, _ := filepath.Glob(filepath.Join(filepath.Dir(cfg.Location[len("file "):]), "replica", "ltx", "*", "*.ltx"))
	if len(l1) == 0 {
		t.Fatal("no ltx files")
	}
	for _, f := range l1 {
		if err := os.Truncate(f, 100); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = Verify(ctx, r.dbPath, cfg, VerifyOptions{})
	if err != nil || rep.Verdict != VerdictBroken {
		t.Errorf("broken: %+v %v", rep, err)
	}
	t.Log(rep.Reason)

	// No live database (the card died): the backup alone is judged.
	empty := filepath.Join(t.TempDir(), "replica")
	cfg2 := fileReplica(empty)
	r2 := newReplicated(t, cfg2)
	r2.close(t)
	os.Remove(r2.dbPath)
	rep, err = Verify(ctx, r2.dbPath, cfg2, VerifyOptions{})
	if err != nil || rep.Verdict != VerdictOK || rep.Live != nil {
		t.Errorf("no live database: %+v %v", rep, err)
	}
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	r := newReplicated(t, fileReplica(filepath.Join(t.TempDir(), "replica")))
	ids := r.writeBookings(t, 3, 0)
	out := filepath.Join(t.TempDir(), "copy.db")
	sum, err := Copy(ctx, r.dbPath, out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Bookings != 3 || sum.LatestBooking == nil || sum.LatestBooking.ID != ids[2] || sum.LatestBooking.Owner != "anna" {
		t.Errorf("summary: %+v %+v", sum, sum.LatestBooking)
	}
	if problems, err := integrityCheck(ctx, out, false); err != nil || len(problems) > 0 {
		t.Errorf("integrity: %v %v", problems, err)
	}
	if _, err := Copy(ctx, r.dbPath, out); err == nil {
		t.Error("backup over an existing file")
	}
	live, err := SummarizeLive(ctx, r.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	if d := compareSummaries(sum, live); len(d) != 0 {
		t.Errorf("the copy differs from the live database: %v", d)
	}
}

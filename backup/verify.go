package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Verdict is the outcome of Verify.
type Verdict string

const (
	// VerdictOK: the backup restores, is intact and holds the live data
	// (or all but changes younger than the allowed lag).
	VerdictOK Verdict = "ok"
	// VerdictStale: the backup is intact but misses changes older than
	// the allowed lag: replication is not keeping up or not running.
	VerdictStale Verdict = "stale"
	// VerdictBroken: the backup cannot be restored or is damaged.
	VerdictBroken Verdict = "broken"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// MaxLag is how much younger than the newest backup a live change may
	// be and still count as on its way (default 5m).
	MaxLag time.Duration
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Verdict Verdict
	Reason  string

	Point     RestorePoint // what the newest restore gave
	Window    RestoreWindow
	Integrity []string // problems found; empty when intact
	Backup    *DatabaseSummary
	// Live is the server's database; nil when there is none.
	Live *DatabaseSummary
	// Differences name the tables whose contents differ.
	Differences []string
	// LiveChangedAt is when the live database's files last changed.
	LiveChangedAt time.Time
}

// Verify restores the newest state of the replica into a temporary
// file, checks its integrity and compares it with the live database. It
// is safe while the server runs. An error means the check itself could
// not run; a bad backup is a report with VerdictBroken or VerdictStale.
func Verify(ctx context.Context, dbPath string, cfg ReplicaConfig, opt VerifyOptions) (*VerifyReport, error) {
	if opt.MaxLag <= 0 {
		opt.MaxLag = 5 * time.Minute
	}
	dir, err := os.MkdirTemp("", "booking-verify-")
	if err != nil {
		return nil, fmt.Errorf("verify backup: %w", err)
	}
	defer os.RemoveAll(dir)
	rep := &VerifyReport{}
	res, err := Restore(ctx, cfg, RestoreOptions{OutputPath: filepath.Join(dir, "latest.db")})
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		rep.Verdict, rep.Reason = VerdictBroken, "the newest backup cannot be restored: "+err.Error()
		if strings.Contains(err.Error(), "damaged") {
			rep.Integrity = []string{err.Error()}
		}
		return rep, nil
	}
	rep.Point, rep.Window, rep.Backup = res.Point, res.Window, res.Summary

	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		rep.Verdict, rep.Reason = VerdictOK, "the backup restores and is intact; there is no live database at "+dbPath+" to compare it with"
		return rep, nil
	}
	// Read the files' times first: a change after this is newer than the
	// summary and shows as a lag, never hides one.
	rep.LiveChangedAt = lastModified(dbPath)
	live, err := SummarizeLive(ctx, dbPath)
	if err != nil {
		return nil, fmt.Errorf("verify backup: reading the live database: %w", err)
	}
	rep.Live = live
	rep.LiveChangedAt = later(rep.LiveChangedAt, lastModified(dbPath))
	rep.Differences = compareSummaries(rep.Backup, live)
	if len(rep.Differences) == 0 {
		rep.Verdict, rep.Reason = VerdictOK, "the backup is intact and matches the live database"
		return rep, nil
	}
	lag := rep.LiveChangedAt.Sub(rep.Window.End)
	if lag >= 0 && lag <= opt.MaxLag {
		rep.Verdict = VerdictOK
		rep.Reason = fmt.Sprintf("the backup is intact; the live database changed %s after the newest backup point, which is within the allowed %s (the change is on its way)",
			lag.Round(time.Millisecond), opt.MaxLag)
		return rep, nil
	}
	rep.Verdict = VerdictStale
	if lag < 0 {
		rep.Reason = "the newest backup point is newer than the live database's last change, yet they differ: is the replica written by another database?"
	} else {
		rep.Reason = fmt.Sprintf("the live database has changes from %s that the backup lacks; the newest backup point is from %s (%s earlier, more than the allowed %s)",
			rep.LiveChangedAt.Format(time.RFC3339), rep.Window.End.Format(time.RFC3339), lag.Round(time.Second), opt.MaxLag)
	}
	return rep, nil
}

// lastModified is the newest modification time of the database and its WAL.
func lastModified(dbPath string) time.Time {
	var t time.Time
	for _, p := range []string{dbPath, dbPath + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			t = later(t, fi.ModTime())
		}
	}
	return t
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func compareSummaries(backup, live *DatabaseSummary) []string {
	names := map[string]bool{}
	for _, t := range backup.Tables {
		names[t.Name] = true
	}
	for _, t := range live.Tables {
		names[t.Name] = true
	}
	var sorted []string
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var diffs []string
	for _, n := range sorted {
		b, l := backup.Table(n), live.Table(n)
		switch {
		case b == nil:
			diffs = append(diffs, fmt.Sprintf("%s: only in the live database (%d rows)", n, l.Rows))
		case l == nil:
			diffs = append(diffs, fmt.Sprintf("%s: only in the backup (%d rows)", n, b.Rows))
		case b.Rows != l.Rows:
			diffs = append(diffs, fmt.Sprintf("%s: %d rows in the backup, %d live", n, b.Rows, l.Rows))
		case b.Checksum != l.Checksum:
			diffs = append(diffs, fmt.Sprintf("%s: %d rows in both, with different contents", n, b.Rows))
		}
	}
	return diffs
}

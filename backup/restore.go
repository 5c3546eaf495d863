package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// ErrNoBackup means the replica holds nothing to restore yet.
var ErrNoBackup = errors.New("the replica holds no backup yet")

// RestorePoint is one state of the database the replica can give back:
// everything up to transaction TXID (one Litestream sync, about a second of
// changes), as it was at Time.
type RestorePoint struct {
	Time    time.Time `json:"time"`
	TXID    uint64    `json:"-"`
	MinTXID uint64    `json:"-"`
	// Level is the compaction level of the file that ends at this point:
	// 0 for one sync, 1-8 for merged files, 9 for a daily snapshot.
	Level int   `json:"level"`
	Size  int64 `json:"size"`
}

// RestoreWindow is the span of time a restore can go back to.
type RestoreWindow struct {
	Start, End         time.Time
	StartTXID, EndTXID uint64
}

// RestorePointList is what the replica offers.
type RestorePointList struct {
	Type, Location string
	Window         RestoreWindow
	Points         []RestorePoint // oldest first
}

// WindowError is a restore target outside what the replica holds. Its
// message names the window so the administrator can pick again.
type WindowError struct {
	// Time or TXID is what was asked for.
	Time   time.Time
	TXID   uint64
	Window RestoreWindow
	Reason string
}

func (e *WindowError) Error() string { return e.In(time.UTC) }

// In is the message with times in the house's zone.
func (e *WindowError) In(loc *time.Location) string {
	const layout = "2006-01-02 15:04:05"
	what := "TXID " + FormatTXID(e.TXID)
	if e.TXID == 0 {
		what = e.Time.In(loc).Format(layout)
	}
	return fmt.Sprintf("cannot restore to %s: %s; the replica can restore from %s to %s %s (TXID %s to %s), see \"booking restore-points\"",
		what, e.Reason, e.Window.Start.In(loc).Format(layout), e.Window.End.In(loc).Format(layout), loc,
		FormatTXID(e.Window.StartTXID), FormatTXID(e.Window.EndTXID))
}

// FormatTXID writes a transaction id the way Litestream does (16 hex
// digits), so it can be pasted into "litestream restore -txid" as well.
func FormatTXID(txid uint64) string { return ltx.TXID(txid).String() }

// ParseTXID reads a transaction id in hex, with or without leading zeros
// or 0x.
func ParseTXID(s string) (uint64, error) {
	h := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "0x")
	v, err := strconv.ParseUint(h, 16, 64)
	if err != nil || h == "" || v == 0 {
		return 0, fmt.Errorf("%q is not a transaction id (hex, as \"booking restore-points\" shows it)", s)
	}
	return v, nil
}

// ParseRestoreTime reads the time an administrator types: RFC 3339
// ("2026-11-20T18:00:00+01:00") or the house's local time ("2026-11-20
// 18:00", "2026-11-20 18:00:05").
func ParseRestoreTime(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: write \"2026-11-20 18:00\" (house time, %s) or RFC 3339 such as 2026-11-20T18:00:00+01:00", s, loc)
}

// cutoff turns a requested time into the first instant after it: a time
// given to the second includes that whole second, so a time copied from
// "booking restore-points" (shown to the second) restores that very point.
func cutoff(t time.Time) time.Time {
	if t.Nanosecond() == 0 {
		return t.Add(time.Second)
	}
	return t.Add(time.Nanosecond)
}

// listReplica returns every LTX file of every level. useMetadata asks
// object stores for the exact time of each file (slower).
func listReplica(ctx context.Context, client litestream.ReplicaClient, useMetadata bool) ([]*ltx.FileInfo, error) {
	var all []*ltx.FileInfo
	for level := 0; level <= litestream.SnapshotLevel; level++ {
		itr, err := client.LTXFiles(ctx, level, 0, useMetadata)
		if err != nil {
			return nil, fmt.Errorf("list level %d: %w", level, err)
		}
		for itr.Next() {
			info := *itr.Item()
			all = append(all, &info)
		}
		if err := itr.Close(); err != nil {
			return nil, fmt.Errorf("list level %d: %w", level, err)
		}
	}
	return all, nil
}

// restorePointsOf returns the points a restore can reach, oldest first:
// the ends of files that join a chain starting at the first transaction
// (a snapshot or the very first files). Litestream applies files with
// overlapping ranges in order, so a file continues a chain when it starts
// at or before the chain's end + 1. gap reports the newest file that no
// chain reaches (a hole in the replica), 0 if there is none.
func restorePointsOf(files []*ltx.FileInfo) (points []RestorePoint, gap uint64) {
	sorted := make([]*ltx.FileInfo, len(files))
	copy(sorted, files)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.MaxTXID != b.MaxTXID {
			return a.MaxTXID < b.MaxTXID
		}
		// The finest level first: it is the one a person recognises.
		return a.Level < b.Level
	})
	var reach []uint64 // ascending
	for _, f := range sorted {
		maxTX, minTX := uint64(f.MaxTXID), uint64(f.MinTXID)
		if n := len(points); n > 0 && points[n-1].TXID == maxTX {
			continue
		}
		ok := minTX <= 1
		if !ok {
			i := sort.Search(len(reach), func(i int) bool { return reach[i]+1 >= minTX })
			ok = i < len(reach) && reach[i] < maxTX
		}
		if !ok {
			gap = max(gap, maxTX)
			continue
		}
		reach = append(reach, maxTX)
		points = append(points, RestorePoint{Time: f.CreatedAt, TXID: maxTX, MinTXID: minTX, Level: f.Level, Size: f.Size})
	}
	if len(points) > 0 && gap < points[len(points)-1].TXID {
		gap = 0
	}
	return points, gap
}

func windowOf(points []RestorePoint) RestoreWindow {
	w := RestoreWindow{Start: points[0].Time, StartTXID: points[0].TXID, EndTXID: points[len(points)-1].TXID}
	for _, p := range points {
		if p.Time.After(w.End) {
			w.End = p.Time
		}
		if p.Time.Before(w.Start) {
			w.Start = p.Time
		}
	}
	return w
}

// connect builds and initialises a client (for SFTP that is the login).
func connect(ctx context.Context, cfg ReplicaConfig) (litestream.ReplicaClient, error) {
	if cfg.NewClient == nil {
		return nil, errors.New("no replica configured")
	}
	client, err := cfg.NewClient()
	if err != nil {
		return nil, err
	}
	// The SFTP client dials without a timeout and ignores ctx: a NAS that
	// drops packets would hold a restore for minutes.
	done := make(chan error, 1)
	go func() { done <- client.Init(ctx) }()
	t := time.NewTimer(connectTimeout)
	defer t.Stop()
	select {
	case err = <-done:
	case <-t.C:
		err = fmt.Errorf("no answer within %s", connectTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot reach the replica %s: %s", cfg.Location, describeError(err))
	}
	return client, nil
}

const connectTimeout = 30 * time.Second

// RestorePoints lists what the replica can restore, with the window.
func RestorePoints(ctx context.Context, cfg ReplicaConfig) (*RestorePointList, error) {
	client, err := connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("restore points: %w", err)
	}
	return restorePointsFrom(ctx, cfg, client)
}

func restorePointsFrom(ctx context.Context, cfg ReplicaConfig, client litestream.ReplicaClient) (*RestorePointList, error) {
	// Exact times: they are what a person picks a restore time from.
	files, err := listReplica(ctx, client, true)
	if err != nil {
		return nil, fmt.Errorf("restore points: reading the replica %s: %w", cfg.Location, err)
	}
	points, gap := restorePointsOf(files)
	list := &RestorePointList{Type: cfg.Type, Location: cfg.Location, Points: points}
	if len(points) == 0 {
		if len(files) == 0 {
			return list, ErrNoBackup
		}
		return list, fmt.Errorf("restore points: the replica %s has %d files but none of them starts a restorable history (a snapshot is missing)", cfg.Location, len(files))
	}
	list.Window = windowOf(points)
	if gap != 0 {
		return list, fmt.Errorf("restore points: the replica %s has a hole: it holds changes up to TXID %s, but a restore can only reach %s; restore that with --txid, and check the replica",
			cfg.Location, FormatTXID(gap), FormatTXID(list.Window.EndTXID))
	}
	return list, nil
}

// RestoreOptions choose what to restore and where to. At most one of
// Timestamp and TXID is set; neither means the newest state.
type RestoreOptions struct {
	// OutputPath is the new file. It must not exist, nor its -wal, -shm or
	// -journal.
	OutputPath string
	// Timestamp restores the state as of that time: every change synced
	// up to and including it (to the second when it has no fraction).
	Timestamp time.Time
	// TXID restores exactly up to that transaction.
	TXID uint64
	// OnPlan, when set, is told what will be restored before it starts.
	OnPlan func(point RestorePoint, files int, bytes int64)
	// Progress, when set, is told how many bytes of the replica's files
	// have been read out of how many.
	Progress func(done, total int64)
	// QuickCheck runs PRAGMA quick_check instead of the full
	// integrity_check (the server's automatic restore, where start-up time
	// counts).
	QuickCheck bool
}

// RestoreResult tells what a restore produced.
type RestoreResult struct {
	Path  string
	Point RestorePoint
	// Window is the replica's whole window at the time of the restore.
	Window RestoreWindow
	// AfterNewest is set when the requested time is after the newest point:
	// the result is the newest state, and the replica knows of no change
	// after it.
	AfterNewest bool
	Files       int
	Bytes       int64
	Duration    time.Duration
	Summary     *DatabaseSummary
}

// Restore restores the replica into a new file, checks its integrity and
// describes it. A failed restore leaves no file behind.
func Restore(ctx context.Context, cfg ReplicaConfig, opt RestoreOptions) (*RestoreResult, error) {
	if err := checkNewOutput(opt.OutputPath); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	client, err := connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return restoreWith(ctx, cfg, client, opt)
}

func restoreWith(ctx context.Context, cfg ReplicaConfig, client litestream.ReplicaClient, opt RestoreOptions) (*RestoreResult, error) {
	start := time.Now()
	if opt.TXID != 0 && !opt.Timestamp.IsZero() {
		return nil, errors.New("restore: give a time or a TXID, not both")
	}
	list, err := restorePointsFrom(ctx, cfg, client)
	// A hole in the replica only matters for "the newest state": an
	// explicit target among the reachable points is still exact.
	explicitTarget := opt.TXID != 0 || !opt.Timestamp.IsZero()
	switch {
	case errors.Is(err, ErrNoBackup):
		return nil, fmt.Errorf("restore: %w (%s)", err, cfg.Location)
	case err != nil && (list == nil || len(list.Points) == 0 || !explicitTarget):
		return nil, fmt.Errorf("restore: %w", err)
	}
	res := &RestoreResult{Path: opt.OutputPath, Window: list.Window}
	switch {
	case opt.TXID != 0:
		i := sort.Search(len(list.Points), func(i int) bool { return list.Points[i].TXID >= opt.TXID })
		if i == len(list.Points) || list.Points[i].TXID != opt.TXID {
			reason := "no restore point ends at that transaction"
			if opt.TXID < list.Window.StartTXID || opt.TXID > list.Window.EndTXID {
				reason = "it is outside the window"
			}
			return nil, &WindowError{TXID: opt.TXID, Window: list.Window, Reason: reason}
		}
		res.Point = list.Points[i]
	case !opt.Timestamp.IsZero():
		c := cutoff(opt.Timestamp)
		if opt.Timestamp.After(time.Now()) {
			return nil, &WindowError{Time: opt.Timestamp, Window: list.Window, Reason: "that is in the future"}
		}
		if !c.After(list.Window.Start) {
			return nil, &WindowError{Time: opt.Timestamp, Window: list.Window, Reason: "that is before the oldest restore point"}
		}
		for _, p := range list.Points {
			if p.Time.Before(c) {
				res.Point = p
			}
		}
		res.AfterNewest = c.After(list.Window.End)
	default:
		res.Point = list.Points[len(list.Points)-1]
	}

	// The exact point is restored by its TXID: the same files every time,
	// whatever the clocks of the machines that wrote them said.
	plan, err := litestream.CalcRestorePlan(ctx, client, ltx.TXID(res.Point.TXID), time.Time{}, discardLogger)
	if err != nil {
		return nil, fmt.Errorf("restore: planning TXID %s: %w", FormatTXID(res.Point.TXID), err)
	}
	for _, f := range plan {
		res.Bytes += f.Size
	}
	res.Files = len(plan)
	if opt.OnPlan != nil {
		opt.OnPlan(res.Point, res.Files, res.Bytes)
	}
	pc := &progressClient{ReplicaClient: client, total: res.Bytes, report: opt.Progress}
	pc.last.Store(time.Now().UnixNano()) // a quick restore reports only its end
	replica := litestream.NewReplicaWithClient(nil, pc)
	lopt := litestream.NewRestoreOptions()
	lopt.OutputPath = opt.OutputPath
	lopt.TXID = ltx.TXID(res.Point.TXID)
	if err := replica.Restore(ctx, lopt); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if opt.Progress != nil {
		opt.Progress(res.Bytes, res.Bytes)
	}
	problems, err := integrityCheck(ctx, opt.OutputPath, opt.QuickCheck)
	if err == nil && len(problems) > 0 {
		err = fmt.Errorf("the restored database is damaged: %s", strings.Join(problems, "; "))
	}
	if err != nil {
		removeDatabaseFiles(opt.OutputPath)
		return nil, fmt.Errorf("restore: %w", err)
	}
	if res.Summary, err = Summarize(ctx, opt.OutputPath); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

var discardLogger = slog.New(slog.DiscardHandler)

// checkNewOutput refuses to restore over anything: a stray -wal next to a
// restored file would be replayed into it by SQLite.
func checkNewOutput(path string) error {
	if path == "" {
		return errors.New("no output file given")
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal", path + ".tmp"} {
		if _, err := os.Lstat(p); err == nil {
			return fmt.Errorf("%s already exists: restore never overwrites a file, choose a new name", p)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func removeDatabaseFiles(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		os.Remove(p)
	}
}

// progressClient counts the bytes a restore reads from the replica.
type progressClient struct {
	litestream.ReplicaClient
	total  int64
	read   atomic.Int64
	last   atomic.Int64 // unix nanoseconds of the last report
	report func(done, total int64)
}

func (c *progressClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := c.ReplicaClient.OpenLTXFile(ctx, level, minTXID, maxTXID, offset, size)
	if err != nil || c.report == nil {
		return rc, err
	}
	return &countingReader{ReadCloser: rc, c: c}, nil
}

type countingReader struct {
	io.ReadCloser
	c *progressClient
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	done := r.c.read.Add(int64(n))
	// Reports at most every 200ms: the caller prints them.
	now := time.Now().UnixNano()
	if last := r.c.last.Load(); now-last > int64(200*time.Millisecond) && r.c.last.CompareAndSwap(last, now) {
		r.c.report(min(done, r.c.total), r.c.total)
	}
	return n, err
}

// ReplaceResult is a restore over the live database.
type ReplaceResult struct {
	*RestoreResult
	// MovedAside is the folder that now holds the previous database, its
	// -wal and -shm and Litestream's directory; "" when there was none.
	MovedAside string
	// BookingIDsFrom is the id the next booking gets: above every id the
	// previous database handed out (see BookingIDMargin).
	BookingIDsFrom int64
	// RemovedAside are older before-restore folders removed to keep the
	// newest KeepSetAside.
	RemovedAside []string
}

// ReplaceDatabase restores the replica over the database that lock
// guards, which proves the server is not running. Nothing is deleted: the
// current database, its -wal and -shm and Litestream's directory move into
// "<db>.before-restore-<time>". The restore happens into a new file first, so
// a failed restore leaves the database as it was.
func ReplaceDatabase(ctx context.Context, lock *DatabaseLock, cfg ReplicaConfig, opt RestoreOptions) (*ReplaceResult, error) {
	if lock == nil || lock.f == nil {
		return nil, errors.New("restore --replace: the database lock is not held")
	}
	dbPath := lock.dbPath
	tmp := dbPath + ".restoring"
	// Our own leftovers of an interrupted replace.
	removeDatabaseFiles(tmp)
	os.Remove(tmp + ".tmp")
	opt.OutputPath = tmp
	res, err := Restore(ctx, cfg, opt)
	if err != nil {
		return nil, err
	}
	aside, removed, err := moveAside(dbPath, time.Now())
	if err != nil {
		removeDatabaseFiles(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return nil, fmt.Errorf("restore --replace: the old database is in %s, the restored one in %s: %w", aside, tmp, err)
	}
	res.Path = dbPath
	res.Summary.Path = dbPath
	if err := syncDir(filepath.Dir(dbPath)); err != nil {
		return nil, err
	}
	rr := &ReplaceResult{RestoreResult: res, MovedAside: aside, RemovedAside: removed}
	rr.BookingIDsFrom, err = reserveBookingIDs(ctx, dbPath, aside)
	return rr, err
}

// moveAside moves the database, its sidecars and Litestream's directory
// into one new folder next to it. Inside, the names stay as they were, so
// the old database opens as-is, -wal included. Then it removes the oldest
// such folders beyond the newest KeepSetAside and returns them.
func moveAside(dbPath string, now time.Time) (string, []string, error) {
	aside, err := moveAsideOnly(dbPath, now)
	if err != nil || aside == "" {
		return aside, nil, err
	}
	return aside, pruneSetAside(dbPath), nil
}

func moveAsideOnly(dbPath string, now time.Time) (string, error) {
	dir, base := filepath.Split(dbPath)
	names := []string{base, base + "-wal", base + "-shm", base + "-journal", "." + base + litestream.MetaDirSuffix}
	var present []string
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			present = append(present, n)
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	if len(present) == 0 {
		return "", nil
	}
	// Two restores within a second (a restore --replace, then a start that
	// finds the database unusable) each get their own folder, numbered
	// after every folder of that second there ever was, so that names
	// sort by age even after older ones were removed.
	stamp := aside0(dbPath, now)
	aside := stamp
	if seq := lastAsideSeq(stamp); seq > 0 {
		aside = fmt.Sprintf("%s-%d", stamp, seq+1)
	}
	if err := os.Mkdir(aside, 0o750); err != nil {
		return "", fmt.Errorf("moving the current database aside: %w", err)
	}
	for _, n := range present {
		if err := os.Rename(filepath.Join(dir, n), filepath.Join(aside, n)); err != nil {
			return aside, fmt.Errorf("moving %s aside into %s: %w", n, aside, err)
		}
	}
	return aside, syncDir(dir)
}

// aside0 is the name of the folder a restore at now moves the database
// into: "<db>.before-restore-<UTC time>", which sorts by time.
func aside0(dbPath string, now time.Time) string {
	return dbPath + asideInfix + now.UTC().Format("20060102T150405Z")
}

const asideInfix = ".before-restore-"

// lastAsideSeq is the number of the newest folder named stamp or
// stamp-N (stamp itself is 1), 0 when there is none.
func lastAsideSeq(stamp string) int {
	dir, base := filepath.Split(stamp)
	entries, _ := os.ReadDir(dir)
	last := 0
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base)
		switch {
		case !ok:
		case rest == "":
			last = max(last, 1)
		case strings.HasPrefix(rest, "-"):
			if n, err := strconv.Atoi(rest[1:]); err == nil {
				last = max(last, n)
			}
		}
	}
	return last
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

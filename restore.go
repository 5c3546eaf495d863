package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"booking/backup"
	"booking/store"
)

// replicaCommand is what the backup commands share: flags, config, zone.
type replicaCommand struct {
	common
	*instance
	rc backup.ReplicaConfig
}

// setUp loads the config; Litestream's own log stays quiet (errors only)
// so that the commands' output is what a person reads.
func (rcmd *replicaCommand) setUp(stderr io.Writer) error {
	s, err := rcmd.load()
	if err != nil {
		return err
	}
	rcmd.instance = s
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	rcmd.rc = s.replicaConfig(quiet)
	return nil
}

func (rcmd *replicaCommand) local(t time.Time) string {
	return t.In(rcmd.loc).Format("2006-01-02 15:04:05")
}

func cmdRestorePoints(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore-points", flag.ContinueOnError)
	var rcmd replicaCommand
	rcmd.register(fs)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := rcmd.setUp(stderr); err != nil {
		return err
	}
	list, err := backup.RestorePoints(ctx, rcmd.rc)
	if errors.Is(err, backup.ErrNoBackup) {
		return fmt.Errorf("%w (%s)", err, rcmd.rc.Location)
	} else if list == nil || len(list.Points) == 0 {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rcmd.restorePointsJSON(list, err))
	} else {
		rcmd.printRestorePoints(stdout, list)
	}
	// What is wrong with the replica beyond the points it can restore (a
	// hole) still fails the command.
	return err
}

// restorePointsJSON is what "booking restore-points --json" prints.
type restorePointsJSON struct {
	Type     string             `json:"type"`
	Location string             `json:"location"`
	TimeZone string             `json:"time_zone"`
	Window   restoreWindowJSON  `json:"window"`
	Points   []restorePointJSON `json:"points"`
	Problem  string             `json:"problem,omitempty"`
}

type restoreWindowJSON struct {
	End        time.Time `json:"end"`
	EndLocal   string    `json:"end_local"`
	EndTXID    string    `json:"end_txid"`
	Start      time.Time `json:"start"`
	StartLocal string    `json:"start_local"`
	StartTXID  string    `json:"start_txid"`
}

type restorePointJSON struct {
	Time      time.Time `json:"time"`
	LocalTime string    `json:"local_time"`
	TXID      string    `json:"txid"`
	MinTXID   string    `json:"min_txid"`
	Level     int       `json:"level"`
	Size      int64     `json:"size"`
}

// restorePointsJSON describes list, and problem, the error that came with
// it, for scripts.
func (rcmd *replicaCommand) restorePointsJSON(list *backup.RestorePointList, problem error) restorePointsJSON {
	w := list.Window
	out := restorePointsJSON{Type: list.Type, Location: list.Location, TimeZone: rcmd.loc.String(),
		Window: restoreWindowJSON{End: w.End, EndLocal: rcmd.local(w.End), EndTXID: backup.FormatTXID(w.EndTXID),
			Start: w.Start, StartLocal: rcmd.local(w.Start), StartTXID: backup.FormatTXID(w.StartTXID)},
		Points: make([]restorePointJSON, 0, len(list.Points))}
	for _, p := range list.Points {
		out.Points = append(out.Points, restorePointJSON{Time: p.Time, LocalTime: rcmd.local(p.Time), TXID: backup.FormatTXID(p.TXID),
			MinTXID: backup.FormatTXID(p.MinTXID), Level: p.Level, Size: p.Size})
	}
	if problem != nil {
		out.Problem = problem.Error()
	}
	return out
}

// printRestorePoints shows the window and the points for a person, with
// the command that restores the newest.
func (rcmd *replicaCommand) printRestorePoints(stdout io.Writer, list *backup.RestorePointList) {
	zone := rcmd.loc.String()
	fmt.Fprintf(stdout, "Replica: %s\n", list.Location)
	w := list.Window
	fmt.Fprintf(stdout, "Restore window (%s): %s to %s\n", zone, rcmd.local(w.Start), rcmd.local(w.End))
	fmt.Fprintf(stdout, "  Any time in it can be restored; you get the newest point at or before it.\n\n")
	fmt.Fprintf(stdout, "Restore points, oldest first:\n")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  TIME (%s)\tTXID\tKIND\tSIZE\n", zone)
	for _, p := range list.Points {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", rcmd.local(p.Time), backup.FormatTXID(p.TXID), levelName(p.Level), humanBytes(p.Size))
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\nRestore one into a new file with\n  booking restore -o restored.db --timestamp %q\nor with --txid %s.\n",
		rcmd.local(w.End), backup.FormatTXID(w.EndTXID))
}

// levelName says what a compaction level means to a person.
func levelName(level int) string {
	switch {
	case level == 0:
		return "sync"
	case level >= 9:
		return "snapshot"
	default:
		return fmt.Sprintf("merged (L%d)", level)
	}
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var rcmd replicaCommand
	rcmd.register(fs)
	out := fs.String("o", "", "restore into this new file")
	replace := fs.Bool("replace", false, "restore over the database (the server must be stopped)")
	timestamp := fs.String("timestamp", "", `restore the state as of this time ("2026-11-20 18:00" in -tz, or RFC 3339)`)
	txid := fs.String("txid", "", "restore exactly up to this transaction (see restore-points)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	usageErr := func(msg string) error { return usageError(msg + `; see "booking help"`) }
	switch {
	case (*out == "") == !*replace:
		return usageErr("give either -o FILE (a new file) or --replace")
	case *timestamp != "" && *txid != "":
		return usageErr("give --timestamp or --txid, not both")
	}
	if err := rcmd.setUp(stderr); err != nil {
		return err
	}
	opt := backup.RestoreOptions{OutputPath: *out}
	if *timestamp != "" {
		t, err := backup.ParseRestoreTime(*timestamp, rcmd.loc)
		if err != nil {
			return usageErr("--timestamp " + err.Error())
		}
		opt.Timestamp = t
	}
	if *txid != "" {
		x, err := backup.ParseTXID(*txid)
		if err != nil {
			return usageErr("--txid " + err.Error())
		}
		opt.TXID = x
	}
	opt.OnPlan = func(p backup.RestorePoint, files int, bytes int64) {
		fmt.Fprintf(stdout, "Restoring the state of %s %s (TXID %s) from %s (%d files, %s)...\n",
			rcmd.local(p.Time), rcmd.loc, backup.FormatTXID(p.TXID), rcmd.rc.Location, files, humanBytes(bytes))
	}
	opt.Progress = func(done, total int64) {
		pct := 100
		if total > 0 {
			pct = int(done * 100 / total)
		}
		fmt.Fprintf(stdout, "  %3d%%  %s of %s\n", pct, humanBytes(done), humanBytes(total))
	}

	var res *backup.RestoreResult
	var aside string
	var nextID int64
	var removed []string
	if *replace {
		lock, err := backup.LockDatabase(rcmd.dbPath, "restore --replace")
		if errors.Is(err, backup.ErrDatabaseInUse) {
			return fmt.Errorf("the server is running (%w).\nStop it first (sudo systemctl stop booking), then run this again.", err)
		} else if err != nil {
			return err
		}
		defer lock.Release()
		rr, err := backup.ReplaceDatabase(ctx, lock, rcmd.rc, opt)
		if err != nil {
			return rcmd.restoreFailed(err)
		}
		res, aside, nextID, removed = rr.RestoreResult, rr.MovedAside, rr.BookingIDsFrom, rr.RemovedAside
	} else {
		if same, _ := samePath(*out, rcmd.dbPath); same {
			return fmt.Errorf("%s is the live database; restore into a new file, or use --replace with the server stopped", *out)
		}
		var err error
		if res, err = backup.Restore(ctx, rcmd.rc, opt); err != nil {
			return rcmd.restoreFailed(err)
		}
	}

	s := res.Summary
	fmt.Fprintf(stdout, "Restored %s\n", res.Path)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  state as of:\t%s %s (TXID %s)\n", rcmd.local(res.Point.Time), rcmd.loc, backup.FormatTXID(res.Point.TXID))
	fmt.Fprintf(tw, "  size:\t%s\n", humanBytes(s.Size))
	fmt.Fprintf(tw, "  bookings:\t%d\n", s.Bookings)
	fmt.Fprintf(tw, "  latest booking:\t%s\n", describeBooking(s.LatestBooking, rcmd.loc))
	if !s.LastBookingChange.IsZero() {
		fmt.Fprintf(tw, "  last booking change:\t%s\n", rcmd.local(s.LastBookingChange))
	}
	fmt.Fprintf(tw, "  integrity check:\tok\n")
	fmt.Fprintf(tw, "  took:\t%s\n", res.Duration.Round(time.Millisecond))
	tw.Flush()
	if res.AfterNewest {
		fmt.Fprintf(stdout, "Note: the replica holds no change after %s, so this is its newest state.\n", rcmd.local(res.Window.End))
	}
	if *replace {
		if aside != "" {
			fmt.Fprintf(stdout, "The previous database (with its -wal, -shm and Litestream folder) is in\n  %s\nNothing was deleted.\n", aside)
		}
		if len(removed) > 0 {
			fmt.Fprintf(stdout, "Older folders like it were removed (the newest %d stay):\n  %s\n", backup.KeepSetAside, strings.Join(removed, "\n  "))
		}
		fmt.Fprintf(stdout, "New bookings get numbers from #%d on, so that no number is used twice.\n", nextID)
		fmt.Fprintln(stdout, "Start the server again (sudo systemctl start booking); it continues replicating from this state.")
	}
	return nil
}

// restoreFailed words a target outside the window in the house's time
// (package backup says it in UTC, not knowing the house).
func (rcmd *replicaCommand) restoreFailed(err error) error {
	var we *backup.WindowError
	if errors.As(err, &we) {
		return errors.New(we.In(rcmd.loc))
	}
	return err
}

func describeBooking(b *store.BookingSummary, loc *time.Location) string {
	if b == nil {
		return "none"
	}
	return fmt.Sprintf("#%d by %s, %s to %s, %s, created %s", b.ID, b.Owner, b.Arrival, b.Departure, b.Status,
		b.CreatedAt.In(loc).Format("2006-01-02 15:04"))
}

// samePath tells whether two paths name the same file, also when one of
// them does not exist yet.
func samePath(a, b string) (bool, error) {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb), nil
	}
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	ab, err := filepath.Abs(b)
	return aa == ab, err
}

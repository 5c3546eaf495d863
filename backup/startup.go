package backup

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"booking/store"
)

// walHeaderSize is the size of a -wal file's header: a -wal no longer than
// that holds no pages.
const walHeaderSize = 32

// Problems of a database file that make it unusable, as RestoreIfUnusable
// reports them.
const (
	ProblemMissing   = "missing"
	ProblemEmpty     = "empty (0 bytes)"
	ProblemNotSQLite = "not a SQLite database"
	ProblemNoTables  = "a database without tables"
)

// fileState is what lies at the database path before anything opens it.
type fileState struct {
	problem string // one of the Problem constants, "" for a database with tables
	walSize int64  // -1 when there is no -wal
}

// inspectDatabaseFile looks at the database file's bytes without SQLite:
// opening it would let SQLite act on what it finds (a 0-byte file with a
// -wal beside it loses the -wal).
func inspectDatabaseFile(dbPath string) (fileState, error) {
	st := fileState{walSize: -1}
	if fi, err := os.Lstat(dbPath + "-wal"); err == nil {
		st.walSize = fi.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return st, err
	}
	f, err := os.Open(dbPath)
	if errors.Is(err, os.ErrNotExist) {
		st.problem = ProblemMissing
		return st, nil
	} else if err != nil {
		return st, err
	}
	defer f.Close()
	// The 100-byte header, then page 1's b-tree header: the schema table.
	head := make([]byte, 108)
	n, err := io.ReadFull(f, head)
	switch {
	case n == 0 && (err == io.EOF || err == nil):
		st.problem = ProblemEmpty
	case n < 100 || !bytes.HasPrefix(head, []byte("SQLite format 3\x00")):
		st.problem = ProblemNotSQLite
	case n == len(head) && head[100] == 0x0d && binary.BigEndian.Uint16(head[103:]) == 0:
		// A leaf page without cells: sqlite_schema is empty.
		st.problem = ProblemNoTables
	case err != nil && err != io.ErrUnexpectedEOF:
		return st, err
	}
	return st, nil
}

// StartupRestore is what RestoreIfUnusable found and did.
type StartupRestore struct {
	// Problem is what was wrong with the database file (a Problem
	// constant).
	Problem string
	// Restored is the restore, nil when the replica held nothing (a first
	// start: the server creates the database).
	Restored *RestoreResult
	// MovedAside is the folder that now holds what was at the database's
	// place (the file, its -wal and -shm, Litestream's folder); "" when
	// there was nothing.
	MovedAside string
	// BookingIDsFrom is the id the next booking gets: above every id
	// handed out before the restore (see BookingIDMargin).
	BookingIDsFrom int64
	// RemovedAside are older before-restore folders removed to keep the
	// newest KeepSetAside.
	RemovedAside []string
}

// UnusableError is a database file the server must not start with and must
// not replace by itself. Its message says what was found and what to do.
type UnusableError struct {
	Path    string
	Problem string
	// WALSize is the size of the -wal beside it, -1 when there is none.
	WALSize int64
	Reason  string
}

func (e *UnusableError) Error() string {
	s := fmt.Sprintf("REFUSING TO START: the database %s is %s", e.Path, e.Problem)
	if e.WALSize > walHeaderSize {
		s += fmt.Sprintf(", but %s-wal (%d bytes) is beside it", e.Path, e.WALSize)
	}
	return s + ". " + e.Reason
}

// RestoreIfUnusable runs before the server opens the database. When the
// database file is missing, empty, not a SQLite database or without tables
// and the replica holds a backup, it restores the newest state: starting
// with an empty database would let Litestream carry on the replica's
// history with that empty state, and within minutes every restore point
// would hold no bookings. What was at the database's place is moved into a
// "<db>.before-restore-<time>" folder, never deleted.
//
// It refuses (an *UnusableError) when a -wal with pages lies beside such a
// file: the -wal may hold bookings that exist nowhere else, and SQLite would
// drop it. And when the file is something other than a database while the
// replica is empty. An unusable database with an unreadable replica is an
// error too: it cannot tell whether there is a backup to restore.
//
// A usable database, and a missing or empty one with an empty replica (the
// first start), return no restore.
func RestoreIfUnusable(ctx context.Context, dbPath string, cfg ReplicaConfig) (*StartupRestore, error) {
	st, err := inspectDatabaseFile(dbPath)
	if err != nil {
		return nil, fmt.Errorf("looking at the database %s: %w", dbPath, err)
	}
	if st.problem == "" {
		return nil, nil
	}
	if st.walSize > walHeaderSize {
		return nil, &UnusableError{Path: dbPath, Problem: st.problem, WALSize: st.walSize,
			Reason: "That -wal may hold bookings that exist nowhere else, and SQLite would throw it away. Nothing was changed and nothing was replicated. " +
				"To get the newest backup back, with the server stopped, run: booking restore --replace (it moves the database, its -wal and -shm into a folder beside them and deletes nothing). " +
				"Copy the data folder first if you want help recovering what the -wal holds."}
	}
	client, err := connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("the database %s is %s and the replica cannot be read, so it cannot be restored: %w", dbPath, st.problem, err)
	}
	files, err := listReplica(ctx, client, false)
	if err != nil {
		return nil, fmt.Errorf("the database %s is %s and the replica %s cannot be read: %w", dbPath, st.problem, cfg.Location, err)
	}
	if len(files) == 0 {
		if st.problem == ProblemNotSQLite {
			return nil, &UnusableError{Path: dbPath, Problem: st.problem, WALSize: st.walSize,
				Reason: fmt.Sprintf("The replica %s holds no backup to restore either. Move the file away (or point litestream.yml at the right database) and start again.", cfg.Location)}
		}
		// The first start (or a backup disk that is not mounted: the
		// server's log says so).
		return &StartupRestore{Problem: st.problem}, nil
	}
	aside, removed, err := moveAside(dbPath, time.Now())
	if err != nil {
		return nil, err
	}
	tmp := dbPath + ".restoring"
	removeDatabaseFiles(tmp)
	os.Remove(tmp + ".tmp")
	res, err := restoreWith(ctx, cfg, client, RestoreOptions{OutputPath: tmp, QuickCheck: true})
	if err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return nil, err
	}
	res.Path = dbPath
	res.Summary.Path = dbPath
	if err := syncDir(filepath.Dir(dbPath)); err != nil {
		return nil, err
	}
	sr := &StartupRestore{Problem: st.problem, Restored: res, MovedAside: aside, RemovedAside: removed}
	sr.BookingIDsFrom, err = reserveBookingIDs(ctx, dbPath, aside)
	return sr, err
}

// BookingIDMargin is the least a restored database's booking ids skip
// above the highest id it knows of. The ids of bookings made after the
// replica's last sync (a dead SD card: normally the last second) are
// recorded nowhere; a family makes far fewer than this in a minute.
const BookingIDMargin = 1000

// reserveBookingIDs makes the restored database at dbPath hand out booking
// ids above every id the restored file and the database moved aside into
// aside (if it can be read) have handed out, plus a margin for the ones
// nothing recorded: BookingIDMargin, or a minute's worth at the rate the
// restored file's last 10 seconds of bookings came in, if that is more
// (the kill -9 test books hundreds a second). It returns the next id.
func reserveBookingIDs(ctx context.Context, dbPath, aside string) (int64, error) {
	highest, err := store.HighestBookingID(ctx, dbPath)
	if err != nil {
		return 0, fmt.Errorf("after the restore: %w", err)
	}
	if aside != "" {
		// A damaged or empty old database tells nothing; the margin covers.
		if old, err := store.HighestBookingID(ctx, filepath.Join(aside, filepath.Base(dbPath))); err == nil {
			highest = max(highest, old)
		}
	}
	margin := int64(BookingIDMargin)
	if recent, err := store.RecentBookings(ctx, dbPath, 10*time.Second); err == nil {
		margin = max(margin, 6*recent)
	}
	floor := highest + margin
	if err := store.RaiseBookingIDs(ctx, dbPath, floor); err != nil {
		return 0, fmt.Errorf("after the restore: %w", err)
	}
	return floor + 1, nil
}

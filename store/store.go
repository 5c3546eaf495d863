// Package store is the SQLite database of the booking server: opening it,
// migrations, queries, and the booking rules, which are enforced inside the
// write transactions so that no caller can get around them.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Options are the values the store needs from its caller.
type Options struct {
	// Now is the clock; tests set it to make "today" whatever they need.
	// Defaults to time.Now.
	Now func() time.Time
	// TimeZone is the house's time zone until an administrator sets one in
	// the settings. Defaults to Europe/Berlin.
	TimeZone *time.Location
	// Readers is the size of the read-only pool (default GOMAXPROCS, at
	// least 2, at most 4). Each connection has its own page cache, so this
	// is a memory knob.
	Readers int
	// MaxPageCount caps the database at this many pages (0: SQLite's
	// default, practically none). Beyond it SQLite refuses writes exactly
	// as on a full disk, which is how the tests fill the disk.
	MaxPageCount int
	// Logger is told when the database file turns out to be damaged and
	// when its disk is full; nil logs nothing.
	Logger *slog.Logger
}

// Store is the database. It is safe for concurrent use.
type Store struct {
	path     string
	writer   *sql.DB // exactly one connection: SQLite has one writer anyway
	reader   *sql.DB // read-only, a few connections, never queue behind writes
	now      func() time.Time
	settings atomic.Pointer[Settings]
	// hashSem lets one password hash run at a time: argon2id takes 7 MiB
	// per hash, and a login burst must not multiply that on a 512 MB Pi.
	hashSem chan struct{}
	// generation counts committed writes, so callers can cache what is
	// computed from the data (the calendar) until the next change; changes
	// says what the last ones changed (see changes.go).
	generation atomic.Uint64
	changes    changeLog

	// Every page view looks up its session and its user: those two
	// statements are prepared once (modernc spends more time preparing than
	// running them), and users are cached until the next write.
	findSession *sql.Stmt
	userByID    *sql.Stmt
	stays       *sql.Stmt // the month view's query, read again after every change
	stayByID    *sql.Stmt // one stay, to bring a month up to date after a change
	usersMu     sync.Mutex
	users       map[int64]User
	usersGen    uint64

	// Group commit of booking changes, see group.go.
	groupIn   chan *groupedWrite
	groupQuit chan struct{}
	groupDone chan struct{}
	groupStop sync.Once

	integrity atomic.Pointer[IntegrityResult]
	// damaged and storageFull are what the connections saw, see watch.go.
	damaged     atomic.Pointer[damage]
	storageFull atomic.Pointer[time.Time]
	log         *slog.Logger

	// prepared holds the writer's hot statements by their SQL; it is filled
	// in Open and only read afterwards.
	prepared map[string]*sql.Stmt

	// Mail (outbox.go): whether changes queue mail, the transactions that
	// queued some, and the signal to the sender after one committed.
	mailOn     atomic.Bool
	mailTx     sync.Map // *sql.Tx → struct{}
	mailSignal chan struct{}
}

// cacheKiB bounds the page cache of each connection. A family's database
// is small today (the bench's is under 1 MiB, so the bound changes nothing
// there), but it grows for years, and every connection fills its own cache
// up to this bound outside the Go heap.
const cacheKiB = 512

// PageSize is the page size of a new database, in bytes; see Open.
const PageSize = 1024

// dsn builds the connection string. Pragmas go in the DSN so that every
// connection of a pool gets them, not just the one a db.Exec happens to use.
func dsn(path string, readOnly bool, maxPages int) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	// Each connection keeps its own page cache, outside the Go heap; a miss
	// is usually a read() from the kernel's cache of the file, not the SD card.
	q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -cacheKiB))
	if readOnly {
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	} else {
		// journal_mode(WAL) is not here: it has to come after page_size,
		// and the driver runs these in alphabetical order (see Open).
		q.Add("_pragma", "synchronous(FULL)")
		// A read-then-write transaction begun with plain BEGIN fails with
		// SQLITE_BUSY_SNAPSHOT under concurrency; BEGIN IMMEDIATE waits.
		q.Set("_txlock", "immediate")
		if maxPages > 0 {
			q.Add("_pragma", fmt.Sprintf("max_page_count(%d)", maxPages))
		}
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (creating if needed) the database at path and brings its schema
// up to date.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.TimeZone == nil {
		loc, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			return nil, fmt.Errorf("open: %w", err)
		}
		opt.TimeZone = loc
	}
	if opt.Readers <= 0 {
		// Readers beyond the processors that can run them at once only
		// queue for the CPU while each holds a page cache; two let a query
		// start while another's goroutine waits for its turn.
		opt.Readers = min(4, max(2, runtime.GOMAXPROCS(0)))
	}
	s := &Store{path: path, now: opt.Now, hashSem: make(chan struct{}, 1), users: map[int64]User{}, log: opt.Logger,
		mailSignal: make(chan struct{}, 1)}
	writer, err := s.openWatched(dsn(path, false, opt.MaxPageCount), true)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := writer.PingContext(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// A new database gets small pages: every commit appends each page it
	// touches to the WAL and Litestream ships it again, so a booking, which
	// touches about a dozen pages, writes less than half the bytes with
	// 1 KiB pages than with SQLite's 4 KiB (bench/run.sh, one booking a
	// second: 66.5 KB → 33.7 KB). A database that exists keeps its page
	// size: WAL mode cannot change it. WAL mode is persistent, so setting it
	// on this one connection is enough.
	var mode string
	if _, err := writer.ExecContext(ctx, "PRAGMA page_size = "+strconv.Itoa(PageSize)); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := writer.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if mode != "wal" {
		writer.Close()
		return nil, fmt.Errorf("open %s: cannot use WAL mode (the journal mode stays %q)", path, mode)
	}
	if err := migrate(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	reader, err := s.openWatched(dsn(path, true, 0), false)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	reader.SetMaxOpenConns(opt.Readers)
	reader.SetMaxIdleConns(opt.Readers)
	s.writer, s.reader = writer, reader
	if s.findSession, err = reader.PrepareContext(ctx, findSessionSQL); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if s.userByID, err = reader.PrepareContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if s.stays, err = reader.PrepareContext(ctx, staysSQL); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if s.stayByID, err = reader.PrepareContext(ctx, stayByIDSQL); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.prepared = make(map[string]*sql.Stmt, len(writeStatements)+len(outboxStatements))
	for _, q := range slices.Concat(writeStatements, outboxStatements, groupStatements) {
		st, err := writer.PrepareContext(ctx, q)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("open %s: prepare: %w", path, err)
		}
		s.prepared[q] = st
	}
	if err := s.loadSettings(ctx, opt.TimeZone); err != nil {
		s.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.groupIn, s.groupQuit, s.groupDone = make(chan *groupedWrite), make(chan struct{}), make(chan struct{})
	go s.committer()
	return s, nil
}

// Close closes both pools.
func (s *Store) Close() error {
	if s.groupQuit != nil { // nil when Open failed before starting it
		// Once: a second Close must not close the channel again, and a
		// booking change arriving meanwhile still sees it closed.
		s.groupStop.Do(func() {
			close(s.groupQuit)
			<-s.groupDone // the group being committed finishes first
		})
	}
	var errs []error
	for _, st := range []*sql.Stmt{s.findSession, s.userByID, s.stays, s.stayByID} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, st := range s.prepared {
		errs = append(errs, st.Close())
	}
	return errors.Join(append(errs, s.reader.Close(), s.writer.Close())...)
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Ping checks that the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.reader.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// Today is the current date in the house's time zone.
func (s *Store) Today() Date {
	return DateOf(s.now().In(s.Settings().Location()))
}

// write runs fn in an immediate transaction on the single writer.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.transact(ctx, true, nil, fn)
}

// transact runs fn in an immediate transaction on the single writer. A
// commit that changesData moves the generation, so every page cached from
// the data is rendered anew; bookkeeping of mail leaves it alone. booking,
// when set, is the one booking fn changed.
func (s *Store) transact(ctx context.Context, changesData bool, booking *int64, fn func(tx *sql.Tx) error) error {
	// A change whose caller went away is not started (a Detach'ed context
	// would not say so itself); one that has started is finished.
	if err := callerErr(ctx); err != nil {
		return err
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		s.afterCommit(tx, false)
		return err
	}
	if err := tx.Commit(); err != nil {
		s.afterCommit(tx, false)
		return err
	}
	if changesData {
		var ids []int64
		if booking != nil && *booking != 0 {
			ids = []int64{*booking}
		}
		s.changed(ids)
	}
	s.afterCommit(tx, true)
	return nil
}

// Generation changes after every committed change of bookings, users,
// accommodations or settings (not of sessions). A cache keyed by it is never
// stale.
func (s *Store) Generation() uint64 { return s.generation.Load() }

// execTx, queryTx and queryRowTx run a statement in a write transaction,
// through its prepared form when it is one of writeStatements.
func (s *Store) execTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st, ok := s.prepared[query]; ok {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

func (s *Store) queryTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st, ok := s.prepared[query]; ok {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

func (s *Store) queryRowTx(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st, ok := s.prepared[query]; ok {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// timestamp is how instants are stored.
func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func parseTimestamp(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// isUniqueViolation tells a UNIQUE constraint failure apart from other errors.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

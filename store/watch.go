package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Two failures belong to the database file rather than to one request: a
// damaged file ("database disk image is malformed") and a full disk. They
// show in the error of whichever query meets them first (a login, a page
// view, the health check), so every connection the store opens goes through
// a thin layer over the driver that looks at every error, marks the store's
// Health and makes the error match one of these sentinels.
var (
	// ErrDamaged is a query that failed because the database file is
	// damaged (SQLITE_CORRUPT, SQLITE_NOTADB).
	ErrDamaged = errors.New("the database file is damaged")
	// ErrStorageFull is a write that failed because the disk (or the
	// database's size limit) is full (SQLITE_FULL): nothing was saved.
	ErrStorageFull = errors.New("the server's storage is full")
)

// Health is what the store has seen go wrong with its file.
type Health struct {
	// Damaged is the first error that showed the file is damaged (a query
	// or a failed integrity check), "" while none did. It stays until the
	// server restarts: a damaged file does not heal, it is restored.
	Damaged   string
	DamagedAt time.Time
	// StorageFull is set when a write failed for lack of space, until a
	// write succeeds again.
	StorageFull   bool
	StorageFullAt time.Time
}

// Health is a snapshot of what went wrong with the database file.
func (s *Store) Health() Health {
	var h Health
	if d := s.damaged.Load(); d != nil {
		h.Damaged, h.DamagedAt = d.detail, d.at
	}
	if t := s.storageFull.Load(); t != nil {
		h.StorageFull, h.StorageFullAt = true, *t
	}
	return h
}

type damage struct {
	detail string
	at     time.Time
}

// classifiedError is a driver error that also matches ErrDamaged or
// ErrStorageFull; errors.As still finds the *sqlite.Error inside.
type classifiedError struct {
	err  error
	kind error
}

func (e *classifiedError) Error() string   { return e.err.Error() }
func (e *classifiedError) Unwrap() []error { return []error{e.err, e.kind} }

// watch looks at an error from the driver. Errors database/sql acts on
// itself (driver.ErrBadConn, io.EOF at the end of rows, ErrSkip) carry no
// SQLite code and pass through unchanged.
func (s *Store) watch(err error) error {
	if err == nil || err == io.EOF {
		return err // the common cases, without errors.As's allocation
	}
	se, ok := err.(*sqlite.Error)
	if !ok && !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		s.markDamaged(err.Error())
		return &classifiedError{err, ErrDamaged}
	case sqlite3.SQLITE_FULL:
		if s.storageFull.Load() == nil {
			now := s.now()
			if s.storageFull.CompareAndSwap(nil, &now) && s.log != nil {
				s.log.Error("THE SERVER'S STORAGE IS FULL: changes cannot be saved. Free space on the disk that holds the database", "db", s.path, "err", err)
			}
		}
		return &classifiedError{err, ErrStorageFull}
	}
	return err
}

// markDamaged records the first sign that the file is damaged.
func (s *Store) markDamaged(detail string) {
	if s.damaged.CompareAndSwap(nil, &damage{detail: detail, at: s.now()}) && s.log != nil {
		s.log.Error("THE DATABASE FILE IS DAMAGED: stop the server and restore it from the replica (see \"Restoring the bookings\" in the README)",
			"db", s.path, "detail", detail)
	}
}

// wrote ends a storage-full episode: a write got through.
func (s *Store) wrote() {
	if s.storageFull.Load() != nil && s.storageFull.Swap(nil) != nil && s.log != nil {
		s.log.Info("the database can be written again", "db", s.path)
	}
}

// openWatched opens a pool whose connections report to s.
func (s *Store) openWatched(dsn string, writer bool) (*sql.DB, error) {
	// The driver registered as "sqlite", with whatever hooks it carries.
	probe, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	drv := probe.Driver()
	probe.Close()
	return sql.OpenDB(&watchConnector{dsn: dsn, drv: drv, s: s, writer: writer}), nil
}

type watchConnector struct {
	dsn    string
	drv    driver.Driver
	s      *Store
	writer bool
}

func (c *watchConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, c.s.watch(err)
	}
	return &watchConn{Conn: conn, s: c.s, writer: c.writer}, nil
}

func (c *watchConnector) Driver() driver.Driver { return c.drv }

// watchConn passes every call on to the driver's connection and watches
// the errors. It implements the optional interfaces modernc's connection
// does, so database/sql takes the same paths as without it.
type watchConn struct {
	driver.Conn
	s      *Store
	writer bool
	inTx   bool // database/sql uses a connection from one goroutine at a time
}

func (c *watchConn) Prepare(query string) (driver.Stmt, error) {
	st, err := c.Conn.Prepare(query)
	if err != nil {
		return nil, c.s.watch(err)
	}
	return &watchStmt{Stmt: st, c: c}, nil
}

func (c *watchConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.Conn.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, c.s.watch(err)
	}
	return &watchStmt{Stmt: st, c: c}, nil
}

func (c *watchConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *watchConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, c.s.watch(err)
	}
	c.inTx = true
	return &watchTx{Tx: tx, c: c}, nil
}

func (c *watchConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	res, err := c.Conn.(driver.ExecerContext).ExecContext(ctx, query, args)
	return res, c.afterExec(err)
}

func (c *watchConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := c.Conn.(driver.QueryerContext).QueryContext(ctx, query, args)
	if err != nil {
		return nil, c.s.watch(err)
	}
	return &watchRows{Rows: rows, s: c.s}, nil
}

func (c *watchConn) Ping(ctx context.Context) error {
	return c.s.watch(c.Conn.(driver.Pinger).Ping(ctx))
}

func (c *watchConn) ResetSession(ctx context.Context) error {
	return c.Conn.(driver.SessionResetter).ResetSession(ctx)
}

func (c *watchConn) IsValid() bool { return c.Conn.(driver.Validator).IsValid() }

// afterExec watches a statement's error; on the writer, a statement that
// went through outside a transaction is a successful write (inside one,
// only the commit is: SQLite writes the -wal when it commits).
func (c *watchConn) afterExec(err error) error {
	if err == nil && c.writer && !c.inTx {
		c.s.wrote()
	}
	return c.s.watch(err)
}

type watchStmt struct {
	driver.Stmt
	c *watchConn
}

func (st *watchStmt) Exec(args []driver.Value) (driver.Result, error) {
	res, err := st.Stmt.Exec(args)
	return res, st.c.afterExec(err)
}

func (st *watchStmt) Query(args []driver.Value) (driver.Rows, error) {
	rows, err := st.Stmt.Query(args)
	if err != nil {
		return nil, st.c.s.watch(err)
	}
	return &watchRows{Rows: rows, s: st.c.s}, nil
}

func (st *watchStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	res, err := st.Stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	return res, st.c.afterExec(err)
}

func (st *watchStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := st.Stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, st.c.s.watch(err)
	}
	return &watchRows{Rows: rows, s: st.c.s}, nil
}

type watchRows struct {
	driver.Rows
	s *Store
}

func (r *watchRows) Next(dest []driver.Value) error { return r.s.watch(r.Rows.Next(dest)) }

func (r *watchRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.Rows.(driver.RowsColumnTypeDatabaseTypeName).ColumnTypeDatabaseTypeName(i)
}

type watchTx struct {
	driver.Tx
	c *watchConn
}

func (t *watchTx) Commit() error {
	t.c.inTx = false
	return t.c.afterExec(t.Tx.Commit())
}

func (t *watchTx) Rollback() error {
	t.c.inTx = false
	return t.c.s.watch(t.Tx.Rollback())
}

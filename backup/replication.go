// Package backup keeps the booking database safe outside the SD card: it
// replicates it with Litestream, restores it to a point in time, and checks
// and copies backups. It builds its own connections to the database files and
// knows the domain only through store.SummarizeBookings.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/benbjohnson/litestream/file"
)

// ReplicaConfig says where and how the database is replicated. main.go builds
// it from litestream.yml (package lsconfig): this package reads no
// configuration files itself, so that tests can hand it any replica client.
type ReplicaConfig struct {
	// Type ("file", "s3", "sftp") and Location (where, never with secrets)
	// are shown to the administrator.
	Type     string
	Location string
	// NewClient builds a fresh, unconnected replica client. Replication and
	// every restore use their own client.
	NewClient func() (litestream.ReplicaClient, error)

	// SyncInterval is how often changes are shipped (default 1s): a dead SD
	// card loses at most this much.
	SyncInterval time.Duration
	// Levels are the compaction levels, L0 first and at least one more.
	// Nil means Litestream's defaults.
	Levels litestream.CompactionLevels
	// SnapshotInterval and SnapshotRetention: zero keeps Litestream's
	// defaults (24h each). Retention bounds how far back a restore can go.
	SnapshotInterval  time.Duration
	SnapshotRetention time.Duration
	// ValidationInterval runs a check of the replica's files this often and
	// reports the result in Status; zero turns it off.
	ValidationInterval time.Duration

	// Logger receives Litestream's messages; its errors are also kept for
	// Status. Defaults to slog.Default().
	Logger *slog.Logger

	// FirstSyncTimeout bounds how long StartReplication waits for the first
	// sync before it lets the server start anyway (default 5s).
	FirstSyncTimeout time.Duration
	// MonitorInterval is how often Litestream looks at the WAL (default 1s).
	MonitorInterval time.Duration
	// ShutdownSyncTimeout bounds the final sync in Close (default
	// DefaultShutdownSyncTimeout).
	ShutdownSyncTimeout time.Duration
}

// DefaultShutdownSyncTimeout is how long Close keeps trying to ship the
// last changes when the replica does not take them. Litestream's own
// default is 30s; systemd waits 90s before it kills, and an administrator
// who stops the server with a dead backup disk should not wait half a
// minute to hear about it.
const DefaultShutdownSyncTimeout = 10 * time.Second

func (c *ReplicaConfig) syncInterval() time.Duration {
	if c.SyncInterval > 0 {
		return c.SyncInterval
	}
	return litestream.DefaultSyncInterval
}

func (c *ReplicaConfig) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.Default()
	}
	return c.Logger
}

func (c *ReplicaConfig) levels() litestream.CompactionLevels {
	if len(c.Levels) > 0 {
		return c.Levels
	}
	levels := make(litestream.CompactionLevels, len(litestream.DefaultCompactionLevels))
	for i, lvl := range litestream.DefaultCompactionLevels {
		v := *lvl
		levels[i] = &v
	}
	return levels
}

// Replication runs Litestream inside the server process: it ships every
// change of the database to the replica and knows how that is going.
type Replication struct {
	cfg    ReplicaConfig
	log    *slog.Logger
	db     *litestream.DB
	ls     *litestream.Store
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// firstSync is closed once Litestream's store is open (the replica could
	// be reached) and its first sync has finished; refused instead when the
	// replica turned out to be ahead of this database.
	firstSync chan struct{}
	refused   chan error
	// behind is set when the replica lagged the database at the last look,
	// so that a lag that lasts a whole sync interval gets a sync of ours.
	behind bool

	mu            sync.Mutex
	lastError     string
	lastErrorAt   time.Time
	failingSince  time.Time
	errors        map[string]uint64 // failed attempts by reason
	stopped       string            // why nothing is replicated, see ReplicationStatus.Stopped
	halted        bool              // Litestream was closed by Halt
	window        RestoreWindow
	windowKnown   bool
	windowTXID    uint64
	windowAt      time.Time
	validation    string
	validationAt  time.Time
	closed        bool
	closeErr      error
	closeFinished chan struct{}
	sameDevice    bool
}

// StartReplication starts replicating the database at dbPath, which the
// store must already have opened (and migrated): the schema then goes out
// with the first sync.
//
// It returns after the first sync, because Litestream needs the write lock
// once for its own set-up and early writes would otherwise wait for it. If
// the replica cannot be reached within FirstSyncTimeout, it logs that and
// returns anyway: the family can still book (the SD card holds every booking)
// while Litestream keeps trying in the background, and Status tells the
// administrator.
//
// Close it after the store's Close, so that the final sync sees every write.
func StartReplication(ctx context.Context, dbPath string, cfg ReplicaConfig) (*Replication, error) {
	if cfg.NewClient == nil {
		return nil, errors.New("replication: no replica configured")
	}
	client, err := cfg.NewClient()
	if err != nil {
		return nil, fmt.Errorf("replication: %w", err)
	}
	r := &Replication{cfg: cfg, firstSync: make(chan struct{}), refused: make(chan error, 1), closeFinished: make(chan struct{}),
		errors: make(map[string]uint64, len(ErrorReasons))}
	for _, reason := range ErrorReasons {
		r.errors[reason] = 0
	}
	r.sameDevice, _ = OnSameDevice(dbPath, cfg) // a folder it cannot stat fails the first sync, said there
	r.log = slog.New(&recordingHandler{inner: cfg.logger().Handler(), rec: r}).With("component", "litestream")

	r.db = litestream.NewDB(dbPath)
	replica := litestream.NewReplicaWithClient(r.db, client)
	if fc, ok := client.(*file.ReplicaClient); ok {
		// The file client copies the database's owner and mode through it.
		fc.Replica = replica
	}
	if cfg.SyncInterval > 0 {
		replica.SyncInterval = cfg.SyncInterval
	}
	if cfg.MonitorInterval > 0 {
		r.db.MonitorInterval = cfg.MonitorInterval
	}
	r.db.Replica = replica

	r.ls = litestream.NewStore([]*litestream.DB{r.db}, cfg.levels())
	if cfg.SnapshotInterval > 0 {
		r.ls.SnapshotInterval = cfg.SnapshotInterval
	}
	if cfg.SnapshotRetention > 0 {
		r.ls.SnapshotRetention = cfg.SnapshotRetention
	}
	if cfg.ShutdownSyncTimeout <= 0 {
		cfg.ShutdownSyncTimeout = DefaultShutdownSyncTimeout
	}
	r.ls.SetShutdownSyncTimeout(cfg.ShutdownSyncTimeout)
	// Validation runs here instead of in Litestream, which only logs the
	// result: the backups page needs it.
	r.ls.ValidationInterval = 0
	r.ls.Logger = r.log
	r.db.SetLogger(r.log.With("db", filepath.Base(dbPath)))

	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.run()
	}()

	timeout := cfg.FirstSyncTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.firstSync:
	case err := <-r.refused:
		r.Close(context.Background())
		return nil, err
	case <-t.C:
		r.log.Warn("replication is not running yet; serving anyway, every change stays on this disk until the replica answers",
			"replica", cfg.Location, "problem", r.Status().LastError)
	case <-ctx.Done():
		r.Close(context.Background())
		return nil, ctx.Err()
	}
	return r, nil
}

// run opens Litestream (retrying while the replica cannot be reached), does
// the first sync, then keeps the restore window and validation up to date.
func (r *Replication) run() {
	backoff := time.Second
	for {
		err := r.checkNotAhead(r.ctx)
		if errors.Is(err, ErrReplicaAhead) {
			r.mu.Lock()
			r.stopped = err.Error()
			r.mu.Unlock()
			r.log.Error("replication refused", "error", err)
			r.refused <- err
			return
		}
		if err == nil {
			err = r.ls.Open(r.ctx)
		}
		if err == nil {
			break
		}
		if r.ctx.Err() != nil {
			return
		}
		// Logged errors are recorded for Status by recordingHandler.
		r.log.Error("cannot open the replica, retrying", "replica", r.cfg.Location, "error", err, "retry_in", backoff)
		select {
		case <-r.ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}

	if err := r.db.SyncAndWait(r.ctx); err != nil && r.ctx.Err() == nil {
		r.log.Error("first sync failed; Litestream keeps retrying", "error", err)
	}
	close(r.firstSync)
	r.refreshWindow(r.ctx)

	var validate <-chan time.Time
	if r.cfg.ValidationInterval > 0 {
		r.validate(r.ctx)
		t := time.NewTicker(r.cfg.ValidationInterval)
		defer t.Stop()
		validate = t.C
	}
	// The window changes when something was shipped (its end) and when
	// retention removes old files (its start), so look again after every
	// change of position and at least every few minutes.
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	watch := time.NewTicker(r.cfg.syncInterval())
	defer watch.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-watch.C:
			r.watchReplica(r.ctx)
		case <-validate:
			r.validate(r.ctx)
		case <-tick.C:
			r.mu.Lock()
			stale := r.windowTXID != uint64(r.db.Replica.Pos().TXID) || time.Since(r.windowAt) > 5*time.Minute
			r.mu.Unlock()
			if stale {
				r.refreshWindow(r.ctx)
			}
		}
	}
}

// ErrReplicaAhead is a replica that holds changes this database never
// made: StartReplication refuses to replicate over it.
var ErrReplicaAhead = errors.New("the replica is ahead of this database")

// checkNotAhead compares this database's replication position (the newest
// change Litestream's folder beside it recorded) with the replica's. A
// replica further along was written by another copy of the database (a
// second server, an old copy of the data folder): Litestream would make
// this database the replica's newest state, and the replica would go
// backwards without anybody asking. Without Litestream's folder (a fresh
// restore, which moves it aside) there is nothing to compare: Litestream
// then carries the replica's history on from this database, which is what
// "booking restore --replace" asks for.
func (r *Replication) checkNotAhead(ctx context.Context) error {
	_, local, err := r.db.MaxLTX()
	if err != nil || local == 0 {
		return err
	}
	files, err := listReplica(ctx, r.db.Replica.Client, false)
	if err != nil {
		return err
	}
	var remote uint64
	for _, f := range files {
		remote = max(remote, uint64(f.MaxTXID))
	}
	if remote <= uint64(local) {
		return nil
	}
	return fmt.Errorf("%w: the replica %s holds changes up to TXID %s, this database only up to %s. Another server may be writing to the same replica, or this data folder is an old copy. Nothing was replicated. "+
		"To continue from the replica's newest state, with the server stopped run: booking restore --replace (the current database is moved aside, not deleted). "+
		"To keep this database instead, point litestream.yml at a new, empty replica",
		ErrReplicaAhead, r.cfg.Location, FormatTXID(remote), FormatTXID(uint64(local)))
}

// watchReplica runs every sync interval. Litestream backs off for up to 5
// minutes after failed syncs, and logs a failure at most every 30s; Status
// and the error counters must follow the replica within about one
// interval both ways. So while replication is failing, or the replica has
// lagged the database for a whole interval, it ships the changes itself:
// an error is counted and recorded at once, a success moves LastSync on
// and ends the failure.
func (r *Replication) watchReplica(ctx context.Context) {
	dbPos, err := r.db.Pos()
	if err != nil {
		return
	}
	behind := dbPos.TXID > r.db.Replica.Pos().TXID
	wasBehind := r.behind
	r.behind = behind
	if !r.Status().Failing && !(behind && wasBehind) {
		return
	}
	if err := r.db.Replica.Sync(ctx); err != nil && ctx.Err() == nil {
		r.recordError("shipping changes to the replica", err)
	}
}

func (r *Replication) refreshWindow(ctx context.Context) {
	pos := uint64(r.db.Replica.Pos().TXID)
	files, err := listReplica(ctx, r.db.Replica.Client, false)
	if err != nil {
		if ctx.Err() == nil {
			r.recordError("reading the replica's restore window", err)
		}
		return
	}
	points, _ := restorePointsOf(files)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.windowTXID, r.windowAt = pos, time.Now()
	r.windowKnown = len(points) > 0
	if r.windowKnown {
		r.window = windowOf(points)
	}
}

func (r *Replication) validate(ctx context.Context) {
	res, err := r.ls.Validate(ctx)
	if ctx.Err() != nil {
		return
	}
	var v string
	switch {
	case err != nil:
		v = "could not check: " + describeError(err)
	case res.Valid:
		v = "ok: the replica's files are complete, without gaps"
	default:
		e := res.Errors[0]
		v = fmt.Sprintf("PROBLEM: level %d: %s", e.Level, e.Message)
		if n := len(res.Errors) - 1; n > 0 {
			v += fmt.Sprintf(" (and %d more)", n)
		}
		r.log.Error("replica validation found problems", "first", e.Message, "count", len(res.Errors))
	}
	r.mu.Lock()
	r.validation, r.validationAt = v, time.Now()
	r.mu.Unlock()
}

// Status is a snapshot of the replication's state. It does no I/O, so the
// pages, health checks and metrics may call it as often as they like.
func (r *Replication) Status() ReplicationStatus {
	st := ReplicationStatus{Type: r.cfg.Type, Location: r.cfg.Location, LastSync: r.db.LastSuccessfulSyncAt(), SameDevice: r.sameDevice}
	r.mu.Lock()
	defer r.mu.Unlock()
	st.LastError, st.LastErrorAt = r.lastError, r.lastErrorAt
	// Failing until a sync succeeds after the last error.
	if st.LastError != "" && !st.LastSync.After(st.LastErrorAt) {
		st.Failing, st.FailingSince = true, r.failingSince
	}
	st.Stopped = r.stopped
	st.Errors = make(map[string]uint64, len(r.errors))
	for k, v := range r.errors {
		st.Errors[k] = v
	}
	if r.windowKnown {
		st.RestoreWindow, st.WindowStart, st.WindowEnd = true, r.window.Start, r.window.End
	}
	st.Validation, st.ValidationAt = r.validation, r.validationAt
	return st
}

// Halt stops replicating at once, without a final sync, and Status says
// why from then on. It is for a database found damaged: Litestream copies
// the whole file into the replica now and then (a snapshot after a
// checkpoint), and would make the damage the replica's newest state. The
// replica keeps the last state shipped before, which "booking restore
// --replace" brings back. Close then reports that replication was halted.
func (r *Replication) Halt(reason string) {
	r.mu.Lock()
	if r.closed || r.stopped != "" {
		r.mu.Unlock()
		return
	}
	r.stopped = reason
	r.mu.Unlock()
	r.log.Error("REPLICATION STOPPED: the replica keeps the last state shipped before", "replica", r.cfg.Location, "reason", reason)
	r.cancel()
	r.wg.Wait()
	// A cancelled context: Litestream stops without its final sync.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r.ls.Close(ctx)
	r.mu.Lock()
	r.halted = true
	r.mu.Unlock()
}

// NotReplicating is a Replication that never starts, for a database found
// damaged before replication began: Status reports the replica and reason
// in Stopped, and Close fails with it.
func NotReplicating(dbPath string, cfg ReplicaConfig, reason string) *Replication {
	r := &Replication{cfg: cfg, firstSync: make(chan struct{}), refused: make(chan error, 1), closeFinished: make(chan struct{}),
		errors: make(map[string]uint64, len(ErrorReasons)), stopped: reason, halted: true}
	for _, reason := range ErrorReasons {
		r.errors[reason] = 0
	}
	r.log = cfg.logger().With("component", "litestream")
	r.db = litestream.NewDB(dbPath)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r
}

// Close stops replicating after a final sync of everything committed. Call
// it after the store's Close. If the replica was never reached (it may still
// be trying to connect), Close gives up when ctx ends.
func (r *Replication) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		<-r.closeFinished
		return r.closeErr
	}
	r.closed = true
	halted, stopped := r.halted, r.stopped
	r.mu.Unlock()
	defer close(r.closeFinished)
	if halted {
		r.cancel()
		r.closeErr = fmt.Errorf("replication: stopped, nothing was shipped since: %s", stopped)
		return r.closeErr
	}

	r.cancel()
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		// An SFTP dial does not watch the context; the process is ending.
		r.closeErr = errors.New("replication: gave up waiting for the replica connection")
		return r.closeErr
	}
	// Litestream's Close is safe on a store that never opened (the replica
	// was never reached): there is nothing to flush then, and it drops the
	// database's metric series either way.
	if err := r.ls.Close(ctx); err != nil {
		r.closeErr = fmt.Errorf("replication: final sync: %w", err)
		return r.closeErr
	}
	// Litestream's Close succeeds when it could not even start (it then has
	// nothing to flush): say so, the changes since are only on this disk.
	st := r.Status()
	if st.LastError != "" && st.LastErrorAt.After(st.LastSync) {
		if st.LastSync.IsZero() {
			r.closeErr = fmt.Errorf("replication: nothing reached the replica: %s", st.LastError)
		} else {
			r.closeErr = fmt.Errorf("replication: the replica may lack changes made since %s: %s",
				st.LastSync.Format(time.RFC3339), st.LastError)
		}
	}
	return r.closeErr
}

func (r *Replication) recordError(what string, err error) {
	r.recordMessage(what+": "+describeError(err), errorReason(err))
}

// recordMessage keeps an error for Status and counts it by reason.
func (r *Replication) recordMessage(msg, reason string) {
	now := time.Now()
	last := r.db.LastSuccessfulSyncAt()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastError == "" || last.After(r.lastErrorAt) {
		r.failingSince = now // a new failure, not the same one again
	}
	r.lastError, r.lastErrorAt = msg, now
	r.errors[reason]++
}

// recordingHandler passes Litestream's log records on and keeps the errors
// among them for Status: Litestream reports failed syncs only in its log.
type recordingHandler struct {
	inner slog.Handler
	rec   *Replication
}

func (h *recordingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || h.inner.Enabled(ctx, l)
}

func (h *recordingHandler) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelError {
		msg, reason := rec.Message, "other"
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "error" || a.Key == "err" {
				if err, ok := a.Value.Any().(error); ok {
					msg += ": " + describeError(err)
					reason = errorReason(err)
				} else {
					msg += ": " + a.Value.String()
				}
				return false
			}
			return true
		})
		h.rec.recordMessage(msg, reason)
	}
	if !h.inner.Enabled(ctx, rec.Level) {
		return nil
	}
	return h.inner.Handle(ctx, rec)
}

func (h *recordingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &recordingHandler{inner: h.inner.WithAttrs(attrs), rec: h.rec}
}

func (h *recordingHandler) WithGroup(name string) slog.Handler {
	return &recordingHandler{inner: h.inner.WithGroup(name), rec: h.rec}
}

// ErrorReasons are the values of the reason label of the replication
// error counter, every one of them present from the start.
var ErrorReasons = []string{"disk_full", "unreachable", "timeout", "permission", "not_writable", "login", "host_key", "other"}

// classifyError puts the common replica failures into a reason (one of
// ErrorReasons) and words an administrator can act on.
func classifyError(err error) (reason, hint string) {
	var netErr net.Error
	msg := err.Error()
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return "disk_full", "the replica's disk (or this one) is full"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable", "the backup server does not answer"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout", "the backup server did not answer in time"
	case errors.Is(err, fs.ErrPermission):
		return "permission", "no permission to write to the replica"
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EROFS):
		return "not_writable", "the replica's folder cannot be written (is the backup disk mounted?)"
	case strings.Contains(msg, "unable to authenticate"):
		return "login", "the SFTP server refused the login (check user and key-path)"
	case strings.Contains(msg, "host key mismatch"):
		return "host_key", "the SFTP server's host key differs from host-key in litestream.yml"
	}
	return "other", ""
}

func errorReason(err error) string {
	reason, _ := classifyError(err)
	return reason
}

// describeError is the error in words an administrator can act on,
// followed by the technical message.
func describeError(err error) string {
	_, hint := classifyError(err)
	if hint == "" {
		return err.Error()
	}
	return hint + " (" + err.Error() + ")"
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"booking/backup"
	"booking/handlers"
	"booking/store"
)

// serveFlags are the flags of "booking serve".
type serveFlags struct {
	common
	addr            string
	baseURL         string
	sessionLifetime time.Duration
	secureCookies   bool
	logFormat       string
	tls             tlsFlags
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	f.register(fs)
	fs.StringVar(&f.addr, "addr", ":8080", "listen address")
	fs.DurationVar(&f.sessionLifetime, "session-lifetime", 30*24*time.Hour, "how long a login lasts")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&f.secureCookies, "secure-cookies", false, "mark cookies Secure (set when served over HTTPS)")
	fs.StringVar(&f.baseURL, "base-url", "", "how family members reach the server, e.g. http://gartenhaus.local:8080 (for the setup link in the log)")
	f.tls.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.tls.check(fs, &f.addr); err != nil {
		return err
	}
	var logger *slog.Logger
	switch f.logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		return usageError(fmt.Sprintf("-log-format %q: want text or json", f.logFormat))
	}
	started := time.Now()
	// Signals are caught from here on, so that Ctrl-C or systemd stopping
	// a long restore at start-up ends it cleanly.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	s, err := f.load()
	if err != nil {
		return logged(logger, "cannot start", err)
	}
	db, err := openReplicated(ctx, s, logger)
	var newer *store.NewerSchemaError
	if errors.As(err, &newer) {
		return logged(logger, "cannot start: the database was migrated by a newer version of booking", err,
			"database_schema", newer.Database, "this_version", buildVersion(), "this_schema", newer.Known,
			"fix", "start the newer version again, or go back to the version before the upgrade together with its database: sudo booking upgrade --rollback")
	}
	if err != nil {
		return logged(logger, "cannot start", err)
	}
	defer db.close(logger)
	return serveUntilStopped(ctx, db, &f, logger, started)
}

// logged writes a failure of the server to its log, which is where its
// administrator looks (the journal, or a collector reading JSON).
func logged(logger *slog.Logger, msg string, err error, attrs ...any) error {
	logger.Error(msg, append(attrs, "err", err)...)
	return errReported
}

// replicatedDB is the database as the server holds it: locked, open and
// replicating.
type replicatedDB struct {
	lock    *backup.DatabaseLock
	store   *store.Store
	rep     *backup.Replication
	replica string // where it replicates to, for the log
}

// openReplicated opens the database for serving. The lock says "the server
// is running" to "booking restore --replace" and keeps a second server (and
// a second Litestream) off the database. A missing database is restored from
// the replica first. The store migrates before replication starts, so the
// schema goes out with Litestream's first sync, and StartReplication returns
// after that sync because Litestream takes the write lock once while it sets
// up.
func openReplicated(ctx context.Context, s *instance, logger *slog.Logger) (_ *replicatedDB, err error) {
	// The lock file lives beside the database.
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	lock, err := backup.LockDatabase(s.dbPath, "serve")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			lock.Release()
		}
	}()
	rc := s.replicaConfig(logger)
	if err := restoreMissingDatabase(ctx, s, rc, logger); err != nil {
		return nil, err
	}
	st, err := s.openStore(ctx)
	if err != nil {
		return nil, err
	}
	rep, err := backup.StartReplication(ctx, s.dbPath, rc)
	if err != nil {
		st.Close()
		return nil, err
	}
	if rep.Status().SameDevice {
		logger.Warn("the replica is on the same disk as the database: it undoes mistakes but dies with the SD card. Point it at a USB disk, a NAS (SFTP) or S3 (see the README)",
			"db", s.dbPath, "replica", rc.Location)
	}
	return &replicatedDB{lock: lock, store: st, rep: rep, replica: rc.Location}, nil
}

// restoreMissingDatabase restores the newest state from the replica when
// the database is missing, and says loudly in the log what it found.
func restoreMissingDatabase(ctx context.Context, s *instance, rc backup.ReplicaConfig, logger *slog.Logger) error {
	_, statErr := os.Stat(s.dbPath)
	restored, err := backup.RestoreIfMissing(ctx, s.dbPath, rc)
	if err != nil {
		return err
	}
	if restored == nil && errors.Is(statErr, os.ErrNotExist) {
		// The first start, or a new SD card whose backup disk is not
		// mounted: only the administrator can tell.
		logger.Warn("no database and no backup in the replica: starting with a NEW, EMPTY database. If you expected your bookings back, stop the server now and check that the replica is there (is the backup disk mounted?)",
			"db", s.dbPath, "replica", rc.Location)
	}
	if restored != nil {
		latest := "none"
		if b := restored.Summary.LatestBooking; b != nil {
			latest = b.String()
		}
		logger.Warn("THE DATABASE WAS MISSING: RESTORED IT FROM THE REPLICA. Check the newest bookings; changes made after the restored point are lost",
			"db", s.dbPath, "replica", rc.Location, "restored_point", restored.Point.Time.In(s.loc).Format(time.RFC3339),
			"txid", backup.FormatTXID(restored.Point.TXID), "bookings", restored.Summary.Bookings, "latest_booking", latest,
			"took", restored.Duration.Round(time.Millisecond))
	}
	return nil
}

// close shuts down in the order Litestream needs: the app's pools first,
// then replication, whose final sync must see every write.
func (db *replicatedDB) close(logger *slog.Logger) {
	if err := db.store.Close(); err != nil {
		logger.Error("closing the database", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if err := db.rep.Close(ctx); err != nil {
		logger.Error("replication did not finish cleanly", "err", err)
	} else {
		logger.Info("replication stopped after a final sync")
	}
	db.lock.Release()
}

// serveUntilStopped serves the pages until ctx ends, then stops taking
// requests and lets the running ones finish; the database stays open for
// them until it returns.
func serveUntilStopped(ctx context.Context, db *replicatedDB, f *serveFlags, logger *slog.Logger, started time.Time) error {
	web, err := f.tls.setup(filepath.Dir(db.store.Path()), buildVersion(), logger)
	if err != nil {
		return logged(logger, "cannot start", err)
	}
	h, err := handlers.New(handlers.Config{Store: db.store, Logger: logger, Version: buildVersion(), Started: started,
		SessionLifetime: f.sessionLifetime, SecureCookies: f.secureCookies || web.on(), MetricsToken: os.Getenv("BOOKING_METRICS_TOKEN"),
		Backups: db.rep, CertificateExpiry: web.certificateExpiry()})
	if err != nil {
		return logged(logger, "cannot start", err)
	}
	ln, from, err := listen(f.addr)
	if err != nil {
		return logged(logger, "cannot listen", err, "addr", f.addr)
	}
	srv := &http.Server{
		Handler:           web.withHSTS(h),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- web.serve(srv, ln) }()
	redirects, err := web.serveRedirects(ln.Addr(), logger, serveErr)
	if err != nil {
		srv.Close()
		return logged(logger, "cannot listen", err, "addr", f.tls.httpAddr)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "listener", from, "https", web.on(), "db", db.store.Path(), "replica", db.replica, "version", buildVersion(),
		"startup", time.Since(started).Round(100*time.Microsecond))
	web.fetchCertificate(ctx, logger)

	baseURL := f.baseURL
	if baseURL == "" {
		baseURL = web.baseURL(ln.Addr())
	}
	if err := announceSetup(ctx, db.store, logger, baseURL, ln.Addr()); err != nil {
		logger.Error("setup link", "err", err)
	}
	go housekeeping(ctx, db.store, logger)

	select {
	case err := <-serveErr:
		return logged(logger, "server stopped", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Error("shutdown", "err", err)
	}
	if redirects != nil {
		redirects.Shutdown(shutCtx)
	}
	return nil
}

// announceSetup logs a one-time link for creating the first administrator
// while there is none. Each start makes a new link and voids the old one.
func announceSetup(ctx context.Context, st *store.Store, logger *slog.Logger, baseURL string, addr net.Addr) error {
	token, err := st.NewSetupToken(ctx)
	if err != nil || token == "" {
		return err
	}
	if baseURL == "" {
		port := "8080"
		if ta, ok := addr.(*net.TCPAddr); ok {
			port = fmt.Sprint(ta.Port)
		}
		baseURL = "http://localhost:" + port
	}
	logger.Warn("no administrator yet: open this one-time link to create one (valid 24 h, or use \"booking user add --admin\")",
		"setup_url", strings.TrimRight(baseURL, "/")+"/setup/"+token)
	return nil
}

// housekeeping removes expired sessions and links once an hour and checks
// the database's integrity once a day (the result is on /health/database).
func housekeeping(ctx context.Context, st *store.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	var lastCheck time.Time
	for {
		if err := st.Sessions().DeleteExpired(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("housekeeping: sessions", "err", err)
		}
		if err := st.DeleteExpiredTokens(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("housekeeping: links", "err", err)
		}
		if time.Since(lastCheck) >= 24*time.Hour {
			lastCheck = time.Now()
			res, err := st.CheckIntegrity(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				logger.Warn("housekeeping: integrity check", "err", err)
			case err == nil && !res.OK:
				logger.Error("the database failed its integrity check: make a copy (booking backup) and see the README's runbook", "detail", res.Detail)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

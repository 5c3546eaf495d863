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
	"sync"
	"syscall"
	"time"

	"booking/backup"
	"booking/handlers"
	"booking/mailer"
	"booking/store"
)

// serveFlags are the flags of "booking serve".
type serveFlags struct {
	common
	addr            string
	baseURL         string
	sessionLifetime time.Duration
	idleTimeout     time.Duration
	secureCookies   bool
	logFormat       string
	tls             tlsFlags
	trustedProxies  handlers.TrustedProxies
	metricsOpen     bool
	logRequests     string
	mailRetry       string
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	f.register(fs)
	fs.StringVar(&f.addr, "addr", ":8080", "listen address")
	fs.DurationVar(&f.sessionLifetime, "session-lifetime", 30*24*time.Hour, "how long a login lasts")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.StringVar(&f.logRequests, "log-requests", "changes", "which requests get an access line: changes (and failures and slow ones), or all")
	fs.BoolVar(&f.secureCookies, "secure-cookies", false, "mark cookies Secure (set when served over HTTPS)")
	fs.StringVar(&f.baseURL, "base-url", "", "how family members reach the server, e.g. http://gartenhaus.local:8080 (for the setup link in the log, links in mails and calendar feeds)")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", 14*24*time.Hour, "log out a session not used for this long (0: never)")
	fs.Var(&f.trustedProxies, "trusted-proxy", "reverse proxies whose X-Forwarded-For/-Proto to believe: addresses or CIDRs, comma-separated (default: none)")
	fs.BoolVar(&f.metricsOpen, "metrics-open", false, "serve /metrics to every host, not only the server itself (or set BOOKING_METRICS_TOKEN)")
	fs.StringVar(&f.mailRetry, "mail-retry", mailer.FormatRetry(mailer.DefaultRetry), "waits before the retries of a mail that could not be sent")
	f.tls.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := f.tls.check(fs, &f.addr); err != nil {
		return err
	}
	if f.logRequests != "changes" && f.logRequests != "all" {
		return usageError(fmt.Sprintf("-log-requests %q: want changes or all", f.logRequests))
	}
	retry, err := mailer.ParseRetry(f.mailRetry)
	if err != nil {
		return usageError("-mail-retry: " + err.Error())
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
	mail, err := mailConfig(os.Getenv("BOOKING_SMTP_URL"), os.Getenv("BOOKING_MAIL_FROM"), retry, logger)
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
	serveErr := serveUntilStopped(ctx, db, &f, mail, logger, started)
	// A final sync that did not reach the replica is a failed stop: the
	// exit status tells systemd (and whoever reads its journal).
	if err := db.close(logger); err != nil && serveErr == nil {
		return errReported
	}
	return serveErr
}

// mailConfig reads the mail settings from the environment, where secrets
// stay out of the database and its replica. Without BOOKING_SMTP_URL mail
// is off; a URL or sender that does not parse stops the start, rather than
// a server that silently sends nothing.
func mailConfig(smtpURL, from string, retry []time.Duration, logger *slog.Logger) (mailer.Config, error) {
	cfg := mailer.Config{Retry: retry, Words: handlers.MailWords, Logger: logger}
	if smtpURL == "" {
		return cfg, nil
	}
	smtp, err := mailer.ParseSMTPURL(smtpURL)
	if err != nil {
		return cfg, err
	}
	if cfg.From, err = mailer.ParseFrom(from, smtp); err != nil {
		return cfg, err
	}
	cfg.SMTP = smtp
	return cfg, nil
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
	lock      *backup.DatabaseLock
	store     *store.Store
	rep       *backup.Replication
	replica   string // where it replicates to, for the log
	stopGuard context.CancelFunc
}

// integrityWait is how long the start waits for the integrity check before
// replication starts. A family's database is checked in milliseconds; a
// large one on a slow card finishes in the background, with replication
// halted if it fails.
const integrityWait = time.Second

// openReplicated opens the database for serving. The lock says "the server
// is running" to "booking restore --replace" and keeps a second server (and
// a second Litestream) off the database. A missing, empty or broken
// database file is restored from the replica first. The store migrates
// before replication starts, so the schema goes out with Litestream's first
// sync, and StartReplication returns after that sync because Litestream
// takes the write lock once while it sets up.
//
// A damaged database is never replicated: Litestream would copy the damage
// into the replica's newest state with its next snapshot. The integrity
// check runs before replication starts (within integrityWait), and from
// then on any query that finds the file damaged halts replication.
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
	if err := restoreUnusableDatabase(ctx, s, rc, logger); err != nil {
		return nil, err
	}
	st, err := s.openStore(ctx, logger)
	if err != nil {
		return nil, err
	}
	checked := make(chan struct{})
	go func() {
		defer close(checked)
		checkIntegrity(ctx, st, logger)
	}()
	select {
	case <-checked:
	case <-time.After(integrityWait):
		logger.Info("the integrity check continues in the background", "db", s.dbPath)
	}
	var rep *backup.Replication
	if h := st.Health(); h.Damaged != "" {
		rep = backup.NotReplicating(s.dbPath, rc, "the database file is damaged: "+h.Damaged)
		logger.Error("NOT REPLICATING the damaged database, so that the replica keeps its last good state. Stop the server and restore it: booking restore --replace",
			"db", s.dbPath, "replica", rc.Location)
	} else if rep, err = backup.StartReplication(ctx, s.dbPath, rc); err != nil {
		st.Close()
		return nil, err
	}
	guardCtx, stopGuard := context.WithCancel(context.Background())
	go haltOnDamage(guardCtx, st, rep)
	if rep.Status().SameDevice {
		logger.Warn("the replica is on the same disk as the database: it undoes mistakes but dies with the SD card. Point it at a USB disk, a NAS (SFTP) or S3 (see the README)",
			"db", s.dbPath, "replica", rc.Location)
	}
	return &replicatedDB{lock: lock, store: st, rep: rep, replica: rc.Location, stopGuard: stopGuard}, nil
}

// haltOnDamage halts replication as soon as any query (or the integrity
// check) finds the database damaged.
func haltOnDamage(ctx context.Context, st *store.Store, rep *backup.Replication) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if h := st.Health(); h.Damaged != "" {
			rep.Halt("the database file is damaged: " + h.Damaged)
			return
		}
	}
}

// restoreUnusableDatabase restores the newest state from the replica when
// the database is missing, empty, not a database or without tables, and
// says loudly in the log what it found and did. It refuses to start (an
// error) rather than replicate an empty database over a good backup.
func restoreUnusableDatabase(ctx context.Context, s *instance, rc backup.ReplicaConfig, logger *slog.Logger) error {
	res, err := backup.RestoreIfUnusable(ctx, s.dbPath, rc)
	if err != nil || res == nil {
		return err
	}
	if res.Restored == nil {
		// The first start, or a new SD card whose backup disk is not
		// mounted: only the administrator can tell.
		logger.Warn("no database and no backup in the replica: starting with a NEW, EMPTY database. If you expected your bookings back, stop the server now and check that the replica is there (is the backup disk mounted?)",
			"db", s.dbPath, "found", res.Problem, "replica", rc.Location)
		return nil
	}
	r := res.Restored
	latest := "none"
	if b := r.Summary.LatestBooking; b != nil {
		latest = b.String()
	}
	what := map[string]string{
		backup.ProblemMissing:   "THE DATABASE WAS MISSING",
		backup.ProblemEmpty:     "THE DATABASE FILE WAS EMPTY (0 BYTES)",
		backup.ProblemNotSQLite: "THE DATABASE FILE WAS NOT A SQLITE DATABASE",
		backup.ProblemNoTables:  "THE DATABASE HAD NO TABLES",
	}[res.Problem]
	attrs := []any{"db", s.dbPath, "found", res.Problem, "replica", rc.Location,
		"restored_point", r.Point.Time.In(s.loc).Format(time.RFC3339), "txid", backup.FormatTXID(r.Point.TXID),
		"bookings", r.Summary.Bookings, "latest_booking", latest, "took", r.Duration.Round(time.Millisecond)}
	if res.MovedAside != "" {
		attrs = append(attrs, "moved_aside", res.MovedAside)
	}
	attrs = append(attrs, "next_booking_id", res.BookingIDsFrom)
	logger.Warn(what+": RESTORED IT FROM THE REPLICA. Nothing was deleted: what was there is in moved_aside. Check the newest bookings; changes made after the restored point are lost",
		attrs...)
	logRemovedAside(logger, res.RemovedAside)
	return nil
}

// logRemovedAside says which old before-restore folders a restore removed.
func logRemovedAside(logger *slog.Logger, removed []string) {
	if len(removed) > 0 {
		logger.Info(fmt.Sprintf("removed the oldest before-restore folders, keeping the newest %d", backup.KeepSetAside), "removed", strings.Join(removed, ", "))
	}
}

// close shuts down in the order Litestream needs: the app's pools first,
// then replication, whose final sync must see every write. The final sync
// gives up after backup.DefaultShutdownSyncTimeout (10s) when the replica
// does not take it; the extra 5s bound an SFTP connection that hangs.
// It returns the error it logged, if any.
func (db *replicatedDB) close(logger *slog.Logger) error {
	db.stopGuard()
	if err := db.store.Close(); err != nil {
		logger.Error("closing the database", "err", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), backup.DefaultShutdownSyncTimeout+5*time.Second)
	defer cancel()
	err := db.rep.Close(ctx)
	if err != nil {
		logger.Error("replication did not finish: the replica lacks the newest changes. They are safe in the database on this disk and go to the replica when the server runs again with the replica reachable",
			"replica", db.replica, "err", err)
	} else {
		logger.Info("replication stopped after a final sync")
	}
	db.lock.Release()
	return err
}

// serveUntilStopped serves the pages until ctx ends, then stops taking
// requests and lets the running ones finish; the database stays open for
// them until it returns.
func serveUntilStopped(ctx context.Context, db *replicatedDB, f *serveFlags, mail mailer.Config, logger *slog.Logger, started time.Time) error {
	web, err := f.tls.setup(filepath.Dir(db.store.Path()), buildVersion(), logger)
	if err != nil {
		return logged(logger, "cannot start", err)
	}
	// Listening comes first: without -base-url, links point at the port.
	ln, from, err := listen(f.addr)
	if err != nil {
		return logged(logger, "cannot listen", err, "addr", f.addr)
	}
	baseURL := f.baseURL
	if baseURL == "" {
		baseURL = web.baseURL(ln.Addr())
	}
	if baseURL == "" {
		port := "8080"
		if ta, ok := ln.Addr().(*net.TCPAddr); ok {
			port = fmt.Sprint(ta.Port)
		}
		baseURL = "http://localhost:" + port
	}
	mail.BaseURL = strings.TrimRight(baseURL, "/")
	if mail.SMTP != nil && f.baseURL == "" {
		logger.Warn("mail is on but -base-url is not set: links in mails point to "+mail.BaseURL+", which only works on this machine", "base_url", mail.BaseURL)
	}
	sender, err := mailer.New(mail, db.store)
	if err != nil {
		ln.Close()
		return logged(logger, "cannot start", err)
	}
	h, err := handlers.New(handlers.Config{Store: db.store, Logger: logger, Version: buildVersion(), Started: started,
		SessionLifetime: f.sessionLifetime, IdleTimeout: f.idleTimeout, SecureCookies: f.secureCookies || web.on(), MetricsToken: os.Getenv("BOOKING_METRICS_TOKEN"),
		Backups: db.rep, CertificateExpiry: web.certificateExpiry(), TrustedProxies: f.trustedProxies, MetricsOpen: f.metricsOpen,
		LogAllRequests: f.logRequests == "all", Mail: sender, BaseURL: f.baseURL})
	if err != nil {
		ln.Close()
		return logged(logger, "cannot start", err)
	}
	// The sender stops with the server; the database stays open until it
	// has.
	sendCtx, stopSending := context.WithCancel(ctx)
	var sending sync.WaitGroup
	sending.Go(func() { sender.Run(sendCtx) })
	defer sending.Wait()
	defer stopSending()
	// Stopping drains keep-alive connections instead of cutting them off
	// under a request (drain.go).
	drain := newDrain()
	ln = &onceCloseListener{Listener: ln}
	srv := &http.Server{
		Handler:           drain.handler(web.withHSTS(h)),
		ConnState:         drain.track,
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
	if err := drain.stop(shutCtx, srv, ln); err != nil {
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

// housekeeping checks the database's integrity once a day (openReplicated
// ran the first check at start) and removes expired sessions and links once
// an hour. The result of the check is on /health/database and
// the Backups page; a failed check, or one that cannot even run on a
// damaged file, makes the server unhealthy.
func housekeeping(ctx context.Context, st *store.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	// openReplicated ran the first check.
	lastCheck := time.Now()
	for {
		if time.Since(lastCheck) >= 24*time.Hour {
			lastCheck = time.Now()
			checkIntegrity(ctx, st, logger)
		}
		if err := st.Sessions().DeleteExpired(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("housekeeping: sessions", "err", err)
		}
		if err := st.DeleteExpiredTokens(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("housekeeping: links", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func checkIntegrity(ctx context.Context, st *store.Store, logger *slog.Logger) {
	start := time.Now()
	res, err := st.CheckIntegrity(ctx)
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case ctx.Err() != nil:
	case err != nil || !res.OK:
		logger.Error("INTEGRITY CHECK FAILED: the database file is damaged. Stop the server and restore the newest backup: booking restore --replace (see \"Restoring the bookings\" in the README)",
			"db", st.Path(), "detail", res.Detail, "took", took)
	default:
		logger.Info("integrity check passed", "db", st.Path(), "took", took)
	}
}

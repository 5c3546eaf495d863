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
	"strings"
	"syscall"
	"time"

	"booking/backup"
	"booking/handlers"
	"booking/store"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c common
	c.register(fs)
	addr := fs.String("addr", ":8080", "listen address")
	sessionLifetime := fs.Duration("session-lifetime", 30*24*time.Hour, "how long a login lasts")
	logFormat := fs.String("log-format", "text", "text or json")
	secureCookies := fs.Bool("secure-cookies", false, "mark cookies Secure (set when served over HTTPS)")
	baseURL := fs.String("base-url", "", "how family members reach the server, e.g. http://gartenhaus.local:8080 (for the setup link in the log)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var logger *slog.Logger
	switch *logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		return usageError(fmt.Sprintf("-log-format %q: want text or json", *logFormat))
	}
	started := time.Now()
	// Signals are caught from here on, so that Ctrl-C or systemd stopping
	// a long restore at start-up ends it cleanly.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(msg string, err error) error {
		logger.Error(msg, "err", err)
		return errReported
	}

	cfg, loc, err := c.load()
	if err != nil {
		return fail("cannot start", err)
	}
	path := cfg.DB().Path
	if err := os.MkdirAll(dirOf(path), 0o750); err != nil {
		return fail("cannot start: database directory", err)
	}
	// The lock says "the server is running" to "booking restore --replace"
	// and keeps a second server (and a second Litestream) off the database.
	lock, err := backup.LockDatabase(path, "serve")
	if err != nil {
		return fail("cannot start", err)
	}
	defer lock.Release()

	rc := replicaConfig(cfg, logger)
	_, statErr := os.Stat(path)
	restored, err := backup.RestoreIfMissing(ctx, path, rc)
	if err != nil {
		return fail("cannot start", err)
	}
	if restored == nil && errors.Is(statErr, os.ErrNotExist) {
		// The first start, or a new SD card whose backup disk is not
		// mounted: only the administrator can tell.
		logger.Warn("no database and no backup in the replica: starting with a NEW, EMPTY database. If you expected your bookings back, stop the server now and check that the replica is there (is the backup disk mounted?)",
			"db", path, "replica", rc.Location)
	}
	if restored != nil {
		latest := "none"
		if b := restored.Summary.LatestBooking; b != nil {
			latest = b.String()
		}
		logger.Warn("THE DATABASE WAS MISSING: RESTORED IT FROM THE REPLICA. Check the newest bookings; changes made after the restored point are lost",
			"db", path, "replica", rc.Location, "restored_point", restored.Point.Time.In(loc).Format(time.RFC3339),
			"txid", backup.FormatTXID(restored.Point.TXID), "bookings", restored.Summary.Bookings, "latest_booking", latest,
			"took", restored.Duration.Round(time.Millisecond))
	}

	// Order: the store migrates first, so the schema goes out with
	// Litestream's first sync; StartReplication returns after that sync,
	// because Litestream takes the write lock once while it sets up.
	st, err := store.Open(ctx, path, store.Options{TimeZone: loc})
	if err != nil {
		return fail("cannot start", err)
	}
	rep, err := backup.StartReplication(ctx, path, rc)
	if err != nil {
		st.Close()
		return fail("cannot start replication", err)
	}
	// Shutdown order: HTTP (below), then the app's pools, then Litestream's
	// final sync, which must see every write.
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing the database", "err", err)
		}
		shutCtx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
		defer cancel()
		if err := rep.Close(shutCtx); err != nil {
			logger.Error("replication did not finish cleanly", "err", err)
		} else {
			logger.Info("replication stopped after a final sync")
		}
	}()

	h, err := handlers.New(handlers.Config{Store: st, Logger: logger, Version: buildVersion(), Started: started,
		SessionLifetime: *sessionLifetime, SecureCookies: *secureCookies, MetricsToken: os.Getenv("BOOKING_METRICS_TOKEN"),
		Backups: rep})
	if err != nil {
		return fail("cannot start", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("cannot listen", "addr", *addr, "err", err)
		return errReported
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String(), "db", st.Path(), "replica", rc.Location, "version", buildVersion(),
		"startup", time.Since(started).Round(100*time.Microsecond))

	if err := announceSetup(ctx, st, logger, *baseURL, ln.Addr()); err != nil {
		logger.Error("setup link", "err", err)
	}
	go housekeeping(ctx, st, logger)

	select {
	case err := <-serveErr:
		logger.Error("server stopped", "err", err)
		return errReported
	case <-ctx.Done():
	}
	// Stop taking requests and finish the running ones; the deferred
	// functions then close the database and replication.
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Error("shutdown", "err", err)
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

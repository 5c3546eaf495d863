// Command booking is the family booking server: one process that serves the
// pages, keeps the bookings in SQLite and replicates them with Litestream.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
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
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"booking/handlers"
	"booking/lsconfig"
	"booking/store"
)

// version is set at build time with -ldflags "-X main.version=..."; without
// it the VCS revision Go embeds is used.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

const usage = `booking: the family booking server

Usage:
  booking [flags]                  serve (the same as "booking serve")
  booking serve [flags]            serve the web app and replicate the database;
                                   a missing database is restored from the
                                   replica first
  booking user add --email E --name N [--admin] [flags]
                                   create an approved account; the password is
                                   read from standard input, or generated and
                                   printed once when none is given
  booking restore-points [--json]  the restore window and every point in it
  booking restore -o FILE [--timestamp T | --txid X]
                                   restore the replica into a new file (the
                                   newest state unless T or X is given)
  booking restore --replace [--timestamp T | --txid X]
                                   restore over the database; only while the
                                   server is stopped. The old database is moved
                                   to booking.db.before-restore-TIME, never
                                   deleted
  booking verify-backup [--max-lag 5m]
                                   restore the newest state to a temporary file,
                                   check it and compare it with the database;
                                   exits 1 when the backup is stale or broken
  booking backup -o FILE           a consistent copy of the database, safe while
                                   the server runs
  booking version                  print the version
  booking help                     this text

Flags (all commands):
  -config FILE   replication config in Litestream's schema; its dbs[0].path is
                 the database (default litestream.yml)
  -tz ZONE       the house's time zone until set on the settings page; restore
                 times are read and shown in it (default Europe/Berlin)
Flags (serve):
  -addr ADDR               listen address (default :8080)
  -base-url URL            how the family reaches the server, for links in
                           the log (default http://localhost:PORT)
  -session-lifetime DUR    how long a login lasts (default 720h)
  -secure-cookies          mark cookies Secure; set it behind HTTPS
  -log-format text|json    log lines as logfmt text (default) or JSON
Times (restore --timestamp): "2026-11-20 18:00" or "2026-11-20 18:00:05" in
  the house's time zone, or RFC 3339 (2026-11-20T18:00:00+01:00). A restore
  gives every change replicated up to and including that second.
Environment:
  BOOKING_METRICS_TOKEN    when set, /metrics needs "Authorization: Bearer TOKEN"
`

// exit codes
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, args, stdout, stderr)
	case "user":
		if len(args) == 0 || args[0] != "add" {
			fmt.Fprintln(stderr, `booking user: the only subcommand is "add"; see "booking help"`)
			return exitUsage
		}
		return cmdUserAdd(ctx, args[1:], stdin, stdout, stderr)
	case "restore-points":
		return cmdRestorePoints(ctx, args, stdout, stderr)
	case "restore":
		return cmdRestore(ctx, args, stdout, stderr)
	case "verify-backup":
		return cmdVerifyBackup(ctx, args, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "booking", buildVersion())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "booking: unknown command %q; see \"booking help\"\n", cmd)
		return exitUsage
	}
}

// common are the flags every command takes.
type common struct {
	config string
	tz     string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "litestream.yml", "replication config (Litestream's schema)")
	fs.StringVar(&c.tz, "tz", "Europe/Berlin", "the house's time zone")
}

// parseFlags parses and reports errors in one line with the usage hint.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "booking %s: %v; see \"booking help\"\n", fs.Name(), err)
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "booking %s: unexpected argument %q; see \"booking help\"\n", fs.Name(), fs.Arg(0))
		return false
	}
	return true
}

// load reads the config and the time zone.
func (c *common) load() (*lsconfig.Config, *time.Location, error) {
	loc, err := time.LoadLocation(c.tz)
	if err != nil {
		return nil, nil, fmt.Errorf("-tz %q is not a time zone (try Europe/Berlin)", c.tz)
	}
	cfg, err := lsconfig.Load(c.config)
	if err != nil {
		return nil, nil, err
	}
	return cfg, loc, nil
}

// openStore reads the config and opens the database it names.
func (c *common) openStore(ctx context.Context) (*store.Store, *lsconfig.Config, error) {
	cfg, loc, err := c.load()
	if err != nil {
		return nil, nil, err
	}
	path := cfg.DB().Path
	if err := os.MkdirAll(dirOf(path), 0o750); err != nil {
		return nil, nil, fmt.Errorf("database directory: %w", err)
	}
	st, err := store.Open(ctx, path, store.Options{TimeZone: loc})
	if err != nil {
		return nil, nil, err
	}
	return st, cfg, nil
}

// replicaConfig hands the replication settings of litestream.yml to the
// store, which reads no configuration files itself.
func replicaConfig(cfg *lsconfig.Config, logger *slog.Logger) store.ReplicaConfig {
	r := cfg.DB().Replica
	return store.ReplicaConfig{
		Type:               r.Type,
		Location:           r.Location(),
		NewClient:          r.NewClient,
		SyncInterval:       r.SyncInterval,
		Levels:             cfg.CompactionLevels(),
		SnapshotInterval:   cfg.Snapshot.Interval,
		SnapshotRetention:  cfg.Snapshot.Retention,
		ValidationInterval: cfg.Validation.Interval,
		Logger:             logger,
	}
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, os.PathSeparator); i > 0 {
		return path[:i]
	}
	return "."
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var c common
	c.register(fs)
	addr := fs.String("addr", ":8080", "listen address")
	sessionLifetime := fs.Duration("session-lifetime", 30*24*time.Hour, "how long a login lasts")
	idleTimeout := fs.Duration("idle-timeout", 14*24*time.Hour, "log out a session not used for this long (0: never)")
	logFormat := fs.String("log-format", "text", "text or json")
	secureCookies := fs.Bool("secure-cookies", false, "mark cookies Secure (set when served over HTTPS)")
	baseURL := fs.String("base-url", "", "how family members reach the server, e.g. http://gartenhaus.local:8080 (for the setup link in the log)")
	metricsOpen := fs.Bool("metrics-open", false, "serve /metrics to every host, not only the server itself (or set BOOKING_METRICS_TOKEN)")
	var trustedProxies handlers.TrustedProxies
	fs.Var(&trustedProxies, "trusted-proxy", "reverse proxies whose X-Forwarded-For/-Proto to believe: addresses or CIDRs, comma-separated (default: none)")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	var logger *slog.Logger
	switch *logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(stderr, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(stderr, nil))
	default:
		fmt.Fprintf(stderr, "booking serve: -log-format %q: want text or json\n", *logFormat)
		return exitUsage
	}
	started := time.Now()
	// Signals are caught from here on, so that Ctrl-C or systemd stopping
	// a long restore at start-up ends it cleanly.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fail := func(msg string, err error) int {
		logger.Error(msg, "err", err)
		return exitError
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
	lock, err := store.LockDatabase(path, "serve")
	if err != nil {
		return fail("cannot start", err)
	}
	defer lock.Release()

	rc := replicaConfig(cfg, logger)
	_, statErr := os.Stat(path)
	restored, err := store.RestoreIfMissing(ctx, path, rc)
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
			"txid", store.FormatTXID(restored.Point.TXID), "bookings", restored.Summary.Bookings, "latest_booking", latest,
			"took", restored.Duration.Round(time.Millisecond))
	}

	// Order: the store migrates first, so the schema goes out with
	// Litestream's first sync; StartReplication returns after that sync,
	// because Litestream takes the write lock once while it sets up.
	st, err := store.Open(ctx, path, store.Options{TimeZone: loc})
	if err != nil {
		return fail("cannot start", err)
	}
	rep, err := store.StartReplication(ctx, path, rc)
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
		SessionLifetime: *sessionLifetime, IdleTimeout: *idleTimeout, SecureCookies: *secureCookies, MetricsToken: os.Getenv("BOOKING_METRICS_TOKEN"),
		Backups: rep, TrustedProxies: trustedProxies, MetricsOpen: *metricsOpen})
	if err != nil {
		return fail("cannot start", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("cannot listen", "addr", *addr, "err", err)
		return exitError
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
		return exitError
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
	return exitOK
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

func cmdUserAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	var c common
	c.register(fs)
	email := fs.String("email", "", "email address (the login)")
	name := fs.String("name", "", "display name")
	admin := fs.Bool("admin", false, "make the account an administrator")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	if *email == "" || *name == "" {
		fmt.Fprintln(stderr, "booking user add: --email and --name are required")
		return exitUsage
	}
	password, generated, err := readPassword(stdin)
	if err != nil {
		fmt.Fprintln(stderr, "booking user add: reading the password:", err)
		return exitError
	}
	st, _, err := c.openStore(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "booking user add:", err)
		return exitError
	}
	defer st.Close()
	role := store.RoleMember
	if *admin {
		role = store.RoleAdmin
	}
	u, err := st.CreateUser(ctx, store.NewUser{Email: *email, Name: *name, Role: role, State: store.StateApproved, Password: password})
	if err != nil {
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			for _, p := range ve.Problems {
				fmt.Fprintf(stderr, "booking user add: --%s %s\n", p.Field, p.Message())
			}
			return exitError
		}
		fmt.Fprintln(stderr, "booking user add:", err)
		return exitError
	}
	fmt.Fprintf(stdout, "created %s %s <%s> (id %d)\n", u.Role, u.Name, u.Email, u.ID)
	if generated {
		fmt.Fprintf(stdout, "password: %s\n(shown only now: write it down or change it after logging in)\n", password)
	}
	return exitOK
}

// readPassword takes the first line of stdin. A terminal or an empty input
// means "make one up": typing a password visibly into a terminal would leave
// it in the scrollback.
func readPassword(stdin io.Reader) (password string, generated bool, err error) {
	if f, ok := stdin.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return generatePassword(), true, nil
		}
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return generatePassword(), true, nil
	}
	return line, false, nil
}

// generatePassword returns 26 random characters from the standard library's
// base32 alphabet (128 bits, no look-alikes such as 0/O or 1/l).
func generatePassword() string { return rand.Text() }

// replicaCommand is what the backup commands share: flags, config, zone.
type replicaCommand struct {
	common
	cfg    *lsconfig.Config
	loc    *time.Location
	rc     store.ReplicaConfig
	dbPath string
}

// setUp loads the config; Litestream's own log stays quiet (errors only)
// so that the commands' output is what a person reads.
func (rcmd *replicaCommand) setUp(stderr io.Writer) error {
	cfg, loc, err := rcmd.load()
	if err != nil {
		return err
	}
	rcmd.cfg, rcmd.loc, rcmd.dbPath = cfg, loc, cfg.DB().Path
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	rcmd.rc = replicaConfig(cfg, quiet)
	return nil
}

func (rcmd *replicaCommand) local(t time.Time) string {
	return t.In(rcmd.loc).Format("2006-01-02 15:04:05")
}

func cmdRestorePoints(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore-points", flag.ContinueOnError)
	var rcmd replicaCommand
	rcmd.register(fs)
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	if err := rcmd.setUp(stderr); err != nil {
		fmt.Fprintln(stderr, "booking restore-points:", err)
		return exitError
	}
	list, err := store.RestorePoints(ctx, rcmd.rc)
	if errors.Is(err, store.ErrNoBackup) {
		fmt.Fprintf(stderr, "booking restore-points: %v (%s)\n", err, rcmd.rc.Location)
		return exitError
	} else if list == nil || len(list.Points) == 0 {
		fmt.Fprintln(stderr, "booking restore-points:", err)
		return exitError
	}
	if *asJSON {
		type point struct {
			Time      time.Time `json:"time"`
			LocalTime string    `json:"local_time"`
			TXID      string    `json:"txid"`
			MinTXID   string    `json:"min_txid"`
			Level     int       `json:"level"`
			Size      int64     `json:"size"`
		}
		out := struct {
			Type     string  `json:"type"`
			Location string  `json:"location"`
			TimeZone string  `json:"time_zone"`
			Window   any     `json:"window,omitempty"`
			Points   []point `json:"points"`
			Problem  string  `json:"problem,omitempty"`
		}{Type: list.Type, Location: list.Location, TimeZone: rcmd.loc.String(), Points: []point{}}
		if len(list.Points) > 0 {
			w := list.Window
			out.Window = map[string]string{"start": w.Start.Format(time.RFC3339Nano), "end": w.End.Format(time.RFC3339Nano),
				"start_local": rcmd.local(w.Start), "end_local": rcmd.local(w.End),
				"start_txid": store.FormatTXID(w.StartTXID), "end_txid": store.FormatTXID(w.EndTXID)}
		}
		for _, p := range list.Points {
			out.Points = append(out.Points, point{Time: p.Time, LocalTime: rcmd.local(p.Time), TXID: store.FormatTXID(p.TXID),
				MinTXID: store.FormatTXID(p.MinTXID), Level: p.Level, Size: p.Size})
		}
		if err != nil {
			out.Problem = err.Error()
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else {
		zone := rcmd.loc.String()
		fmt.Fprintf(stdout, "Replica: %s\n", list.Location)
		w := list.Window
		fmt.Fprintf(stdout, "Restore window (%s): %s to %s\n", zone, rcmd.local(w.Start), rcmd.local(w.End))
		fmt.Fprintf(stdout, "  Any time in it can be restored; you get the newest point at or before it.\n\n")
		fmt.Fprintf(stdout, "Restore points, oldest first:\n")
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  TIME (%s)\tTXID\tKIND\tSIZE\n", zone)
		for _, p := range list.Points {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", rcmd.local(p.Time), store.FormatTXID(p.TXID), levelName(p.Level), humanBytes(p.Size))
		}
		tw.Flush()
		fmt.Fprintf(stdout, "\nRestore one into a new file with\n  booking restore -o restored.db --timestamp %q\nor with --txid %s.\n",
			rcmd.local(w.End), store.FormatTXID(w.EndTXID))
	}
	if err != nil {
		fmt.Fprintln(stderr, "booking restore-points:", err)
		return exitError
	}
	return exitOK
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

func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	var rcmd replicaCommand
	rcmd.register(fs)
	out := fs.String("o", "", "restore into this new file")
	replace := fs.Bool("replace", false, "restore over the database (the server must be stopped)")
	timestamp := fs.String("timestamp", "", `restore the state as of this time ("2026-11-20 18:00" in -tz, or RFC 3339)`)
	txid := fs.String("txid", "", "restore exactly up to this transaction (see restore-points)")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	usageErr := func(msg string) int {
		fmt.Fprintf(stderr, "booking restore: %s; see \"booking help\"\n", msg)
		return exitUsage
	}
	switch {
	case (*out == "") == !*replace:
		return usageErr("give either -o FILE (a new file) or --replace")
	case *timestamp != "" && *txid != "":
		return usageErr("give --timestamp or --txid, not both")
	}
	if err := rcmd.setUp(stderr); err != nil {
		fmt.Fprintln(stderr, "booking restore:", err)
		return exitError
	}
	opt := store.RestoreOptions{OutputPath: *out}
	if *timestamp != "" {
		t, err := store.ParseRestoreTime(*timestamp, rcmd.loc)
		if err != nil {
			return usageErr("--timestamp " + err.Error())
		}
		opt.Timestamp = t
	}
	if *txid != "" {
		x, err := store.ParseTXID(*txid)
		if err != nil {
			return usageErr("--txid " + err.Error())
		}
		opt.TXID = x
	}
	opt.OnPlan = func(p store.RestorePoint, files int, bytes int64) {
		fmt.Fprintf(stdout, "Restoring the state of %s %s (TXID %s) from %s (%d files, %s)...\n",
			rcmd.local(p.Time), rcmd.loc, store.FormatTXID(p.TXID), rcmd.rc.Location, files, humanBytes(bytes))
	}
	opt.Progress = func(done, total int64) {
		pct := 100
		if total > 0 {
			pct = int(done * 100 / total)
		}
		fmt.Fprintf(stdout, "  %3d%%  %s of %s\n", pct, humanBytes(done), humanBytes(total))
	}

	var res *store.RestoreResult
	var aside string
	if *replace {
		lock, err := store.LockDatabase(rcmd.dbPath, "restore --replace")
		if errors.Is(err, store.ErrDatabaseInUse) {
			fmt.Fprintf(stderr, "booking restore: the server is running (%v).\nStop it first (sudo systemctl stop booking), then run this again.\n", err)
			return exitError
		} else if err != nil {
			fmt.Fprintln(stderr, "booking restore:", err)
			return exitError
		}
		defer lock.Release()
		rr, err := store.ReplaceDatabase(ctx, lock, rcmd.rc, opt)
		if err != nil {
			rcmd.restoreFailed(stderr, err)
			return exitError
		}
		res, aside = rr.RestoreResult, rr.MovedAside
	} else {
		if same, _ := samePath(*out, rcmd.dbPath); same {
			fmt.Fprintf(stderr, "booking restore: %s is the live database; restore into a new file, or use --replace with the server stopped\n", *out)
			return exitError
		}
		var err error
		if res, err = store.Restore(ctx, rcmd.rc, opt); err != nil {
			rcmd.restoreFailed(stderr, err)
			return exitError
		}
	}

	s := res.Summary
	fmt.Fprintf(stdout, "Restored %s\n", res.Path)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  state as of:\t%s %s (TXID %s)\n", rcmd.local(res.Point.Time), rcmd.loc, store.FormatTXID(res.Point.TXID))
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
		fmt.Fprintln(stdout, "Start the server again (sudo systemctl start booking); it continues replicating from this state.")
	}
	return exitOK
}

// restoreFailed prints why a restore failed, a target outside the window
// with the window in the house's time.
func (rcmd *replicaCommand) restoreFailed(stderr io.Writer, err error) {
	var we *store.WindowError
	if errors.As(err, &we) {
		fmt.Fprintln(stderr, "booking restore:", we.In(rcmd.loc))
		return
	}
	fmt.Fprintln(stderr, "booking restore:", err)
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

func cmdVerifyBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify-backup", flag.ContinueOnError)
	var rcmd replicaCommand
	rcmd.register(fs)
	maxLag := fs.Duration("max-lag", 5*time.Minute, "how far the backup may trail the newest change")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	if err := rcmd.setUp(stderr); err != nil {
		fmt.Fprintln(stderr, "booking verify-backup:", err)
		return exitError
	}
	rep, err := store.VerifyBackup(ctx, rcmd.dbPath, rcmd.rc, store.VerifyOptions{MaxLag: *maxLag})
	if err != nil {
		fmt.Fprintln(stderr, "booking verify-backup:", err)
		return exitError
	}
	fmt.Fprintf(stdout, "Backup check: %s\n  %s\n", strings.ToUpper(string(rep.Verdict)), rep.Reason)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  replica:\t%s\n", rcmd.rc.Location)
	if rep.Backup != nil {
		fmt.Fprintf(tw, "  restore window:\t%s to %s %s\n", rcmd.local(rep.Window.Start), rcmd.local(rep.Window.End), rcmd.loc)
		fmt.Fprintf(tw, "  newest point:\t%s (TXID %s)\n", rcmd.local(rep.Point.Time), store.FormatTXID(rep.Point.TXID))
		fmt.Fprintf(tw, "  integrity check:\tok\n")
		fmt.Fprintf(tw, "  backup:\t%d bookings, latest %s\n", rep.Backup.Bookings, describeBooking(rep.Backup.LatestBooking, rcmd.loc))
	}
	if rep.Live != nil {
		fmt.Fprintf(tw, "  live database:\t%d bookings, latest %s\n", rep.Live.Bookings, describeBooking(rep.Live.LatestBooking, rcmd.loc))
		fmt.Fprintf(tw, "  live last changed:\t%s\n", rcmd.local(rep.LiveChangedAt))
		if len(rep.Differences) == 0 {
			fmt.Fprintf(tw, "  differences:\tnone (%d tables compared)\n", len(rep.Live.Tables))
		}
	}
	tw.Flush()
	for _, d := range rep.Differences {
		fmt.Fprintf(stdout, "  differs: %s\n", d)
	}
	if rep.Verdict != store.VerdictOK {
		return exitError
	}
	return exitOK
}

func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	var rcmd replicaCommand
	rcmd.register(fs)
	out := fs.String("o", "", "the new file")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	if *out == "" {
		fmt.Fprintln(stderr, `booking backup: -o FILE is required; see "booking help"`)
		return exitUsage
	}
	if err := rcmd.setUp(stderr); err != nil {
		fmt.Fprintln(stderr, "booking backup:", err)
		return exitError
	}
	s, err := store.BackupTo(ctx, rcmd.dbPath, *out)
	if err != nil {
		fmt.Fprintln(stderr, "booking backup:", err)
		return exitError
	}
	fmt.Fprintf(stdout, "Copied %s to %s\n", rcmd.dbPath, *out)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  size:\t%s\n", humanBytes(s.Size))
	fmt.Fprintf(tw, "  bookings:\t%d\n", s.Bookings)
	fmt.Fprintf(tw, "  latest booking:\t%s\n", describeBooking(s.LatestBooking, rcmd.loc))
	tw.Flush()
	return exitOK
}

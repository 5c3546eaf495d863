// Command booking is the family booking server: one process that serves the
// pages, keeps the bookings in SQLite and replicates them with Litestream.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
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
  booking serve [flags]            serve the web app and replicate the database
  booking user add --email E --name N [--admin] [flags]
                                   create an approved account; the password is
                                   read from standard input, or generated and
                                   printed once when none is given
  booking version                  print the version
  booking help                     this text

Flags (all commands):
  -config FILE   replication config in Litestream's schema; its dbs[0].path is
                 the database (default litestream.yml)
  -tz ZONE       the house's time zone until set on the settings page
                 (default Europe/Berlin)
Flags (serve):
  -addr ADDR               listen address (default :8080)
  -base-url URL            how the family reaches the server, for links in
                           the log (default http://localhost:PORT)
  -session-lifetime DUR    how long a login lasts (default 720h)
  -secure-cookies          mark cookies Secure; set it behind HTTPS
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

// openStore reads the config and opens the database it names.
func (c *common) openStore(ctx context.Context) (*store.Store, *lsconfig.Config, error) {
	loc, err := time.LoadLocation(c.tz)
	if err != nil {
		return nil, nil, fmt.Errorf("-tz %q is not a time zone (try Europe/Berlin)", c.tz)
	}
	cfg, err := lsconfig.Load(c.config)
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
	secureCookies := fs.Bool("secure-cookies", false, "mark cookies Secure (set when served over HTTPS)")
	baseURL := fs.String("base-url", "", "how family members reach the server, e.g. http://gartenhaus.local:8080 (for the setup link in the log)")
	if !parseFlags(fs, args, stderr) {
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	started := time.Now()

	st, _, err := c.openStore(ctx)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return exitError
	}
	defer st.Close()

	h, err := handlers.New(handlers.Config{Store: st, Logger: logger, Version: buildVersion(), Started: started,
		SessionLifetime: *sessionLifetime, SecureCookies: *secureCookies, MetricsToken: os.Getenv("BOOKING_METRICS_TOKEN")})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return exitError
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
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("serving", "addr", ln.Addr().String(), "db", st.Path(), "version", buildVersion(),
		"startup", time.Since(started).Round(time.Millisecond))

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
	// Shutdown order: stop taking requests and finish the running ones,
	// then close the database (deferred above).
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

// housekeeping removes expired sessions and links once an hour.
func housekeeping(ctx context.Context, st *store.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
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

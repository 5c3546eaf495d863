// Command booking is the family booking server: one process that serves the
// pages, keeps the bookings in SQLite and replicates them with Litestream.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"booking/backup"
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
                                   a missing, empty or broken database file is
                                   restored from the replica first (never with a
                                   -wal beside it: then it refuses and says why)
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
                                   to booking.db.before-restore-TIME (the newest
                                   3 such folders are kept)
  booking verify-backup [--max-lag 5m]
                                   restore the newest state to a temporary file,
                                   check it and compare it with the database;
                                   exits 1 when the backup is stale or broken
  booking backup -o FILE           a consistent copy of the database, safe while
                                   the server runs
  booking check-config [--replica-dir]
                                   read the config; say where the database and
                                   the replica are and whether they share a disk
  booking upgrade NEW-BINARY       replace the installed binary and restart the
                                   service; back to the old one (and its
                                   database) when the new one is not healthy
  booking upgrade --rollback       go back to the binary before the last upgrade
  booking version                  print the version, Go version, target and
                                   database schema
  booking help                     this text

Flags (all commands):
  -config FILE   replication config in Litestream's schema; its dbs[0].path is
                 the database (default litestream.yml, or where there is none,
                 /etc/booking/litestream.yml)
  -tz ZONE       the house's time zone until set on the settings page; restore
                 times are read and shown in it (default Europe/Berlin)
Flags (serve):
  -addr ADDR               listen address (default :8080)
  -base-url URL            how the family reaches the server, for links in
                           the log, in mails and in calendar feeds (default
                           http://localhost:PORT)
  -session-lifetime DUR    how long a login lasts (default 720h)
  -secure-cookies          mark cookies Secure; set it behind a proxy that
                           serves HTTPS (with -tls-cert or -acme-domain they
                           are Secure anyway)
  -log-format text|json    log lines as logfmt text (default) or JSON
  -log-requests changes|all
                           access lines for requests that change something,
                           fail or are slow (default), or for every request
  -mail-retry LIST         waits before the retries of a mail that could not be
                           sent (default 1m,5m,30m,2h; then it is failed and
                           shown on the settings page)
Flags (serve, HTTPS; see the README's "HTTPS"):
  -tls-cert FILE -tls-key FILE
                           serve HTTPS with this certificate chain and key
                           (PEM, e.g. certbot's fullchain.pem and privkey.pem);
                           renewed files are picked up without a restart
  -acme-domain NAME        serve HTTPS with a certificate for NAME from Let's
                           Encrypt (ACME), kept in the data folder
  -acme-email ADDR         an address for the CA's notices (optional)
  -acme-directory URL      another ACME CA (default Let's Encrypt)
  -http-addr ADDR          plain HTTP that redirects to HTTPS and answers the
                           CA's HTTP-01 check (default :80 with -acme-domain,
                           off otherwise)
  -hsts-preload            add "preload" to the HSTS header
  With HTTPS, -addr defaults to :443.
Flags (upgrade):
  -bin PATH                the installed binary (default /usr/local/bin/booking)
  -url URL                 where the service answers on this machine, for
                           /health/detailed (default http://127.0.0.1:8080)
  -timeout DUR             how long the new version has to become healthy
                           (default 1m)
  -systemctl CMD           stops and starts the service as "CMD stop UNIT",
                           "CMD start UNIT" (default systemctl)
  -unit UNIT               the service (default booking.service)
  -rollback                back to the binary before the last upgrade
  -restore-backup          with -rollback, when the newer version migrated the
                           database: back to the copy made before the upgrade
                           (the database of now is set aside, not deleted)
  -put-back FILE           the rollback's own step, which it runs with the
                           older binary: make this copy the database again
Times (restore --timestamp): "2026-11-20 18:00" or "2026-11-20 18:00:05" in
  the house's time zone, or RFC 3339 (2026-11-20T18:00:00+01:00). A restore
  gives every change replicated up to and including that second.
Environment:
  BOOKING_METRICS_TOKEN    when set, /metrics needs "Authorization: Bearer TOKEN"
  BOOKING_SMTP_URL         turns mail on: smtp://USER:PASSWORD@HOST:587?tls=starttls,
                           smtps://USER:PASSWORD@HOST (port 465), or
                           smtp://localhost:25?tls=none for a local relay
  BOOKING_MAIL_FROM        the sender, e.g. "Gartenhaus <haus@example.org>"
                           (default: the SMTP user, when it is an address)
`

// Exit statuses: a script (or systemd) tells a command line that cannot work
// as typed from a command that failed.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	// No memory profiles: nothing serves them (Litestream links net/http/pprof,
	// but its mux is never served), yet at the default rate the runtime keeps
	// a bucket table and every sampled allocation's stack for good: 1.4 MiB
	// at start, 1.6 MiB after 25 s of the 50-user mix (runtime/metrics
	// /memory/classes/profiling/buckets), growing with each new call path.
	runtime.MemProfileRate = 0
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process, so that tests can run every command with
// their own arguments and streams.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	var err error
	switch name {
	case "serve":
		err = cmdServe(ctx, args, stderr)
	case "user":
		if len(args) == 0 || args[0] != "add" {
			err = usageError(`the only subcommand is "add"; see "booking help"`)
			break
		}
		name, err = "user add", cmdUserAdd(ctx, args[1:], stdin, stdout, stderr)
	case "restore-points":
		err = cmdRestorePoints(ctx, args, stdout, stderr)
	case "restore":
		err = cmdRestore(ctx, args, stdout, stderr)
	case "verify-backup":
		err = cmdVerifyBackup(ctx, args, stdout, stderr)
	case "backup":
		err = cmdBackup(ctx, args, stdout, stderr)
	case "upgrade":
		err = cmdUpgrade(ctx, args, stdout)
	case "check-config":
		err = cmdCheckConfig(ctx, args, stdout)
	case "version":
		cmdVersion(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		name, err = "", usageError(fmt.Sprintf("unknown command %q; see \"booking help\"", name))
	}
	return exitStatus(stderr, name, err)
}

// usageError is a command line that cannot work as typed.
type usageError string

func (e usageError) Error() string { return string(e) }

// errReported is returned by a command that has already said what went
// wrong in its own form: serve in its log (in the log's format, where the
// administrator of a server looks), user add one line per problem,
// verify-backup in its report.
var errReported = errors.New("reported by the command")

// exitStatus says what went wrong, once, prefixed with the command so that a
// line read alone still tells where it came from, and picks the exit status:
// 2 for a usage error, 1 for any other failure.
func exitStatus(stderr io.Writer, name string, err error) int {
	if err == nil {
		return exitOK
	}
	if !errors.Is(err, errReported) {
		prefix := "booking"
		if name != "" {
			prefix += " " + name
		}
		fmt.Fprintf(stderr, "%s: %v\n", prefix, err)
	}
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// common are the flags every command takes.
type common struct {
	config string
	tz     string
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", defaultConfig(), "replication config (Litestream's schema)")
	fs.StringVar(&c.tz, "tz", "Europe/Berlin", "the house's time zone")
}

// installedConfig is where deploy/install.sh puts the config.
const installedConfig = "/etc/booking/litestream.yml"

// defaultConfig is litestream.yml in the working directory, as "go run ."
// and the Litestream CLI use it, else the installed one: on the Pi
// "sudo -u booking booking restore-points" then needs no -config.
func defaultConfig() string {
	if _, err := os.Stat("litestream.yml"); err != nil {
		if _, err := os.Stat(installedConfig); err == nil {
			return installedConfig
		}
	}
	return "litestream.yml"
}

// parseFlags parses args into fs; every error is a usage error in one line
// with the usage hint.
func parseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageError(fmt.Sprintf("%v; see \"booking help\"", err))
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected argument %q; see \"booking help\"", fs.Arg(0)))
	}
	return nil
}

// instance is the installation the common flags point at: its config, the
// house's time zone and the database the config names (symbolic links
// resolved).
type instance struct {
	cfg    *lsconfig.Config
	loc    *time.Location
	dbPath string
}

// load reads the config and the time zone.
func (c *common) load() (*instance, error) {
	loc, err := time.LoadLocation(c.tz)
	if err != nil {
		return nil, fmt.Errorf("-tz %q is not a time zone (try Europe/Berlin)", c.tz)
	}
	cfg, err := lsconfig.Load(c.config)
	if err != nil {
		return nil, err
	}
	// The real file, whatever symbolic links lead to it: the lock, SQLite
	// and Litestream must all agree on one name.
	dbPath, err := backup.RealPath(cfg.DB().Path)
	if err != nil {
		return nil, fmt.Errorf("database path %s: %w", cfg.DB().Path, err)
	}
	return &instance{cfg: cfg, loc: loc, dbPath: dbPath}, nil
}

// openStore opens the database, creating it (and its folder) on first use.
// logger, when not nil, hears when the file turns out damaged or its disk
// full.
func (s *instance) openStore(ctx context.Context, logger *slog.Logger) (*store.Store, error) {
	if err := s.makeDir(); err != nil {
		return nil, err
	}
	return store.Open(ctx, s.dbPath, store.Options{TimeZone: s.loc, Logger: logger})
}

func (s *instance) makeDir() error {
	if err := os.MkdirAll(filepath.Dir(s.dbPath), 0o750); err != nil {
		return fmt.Errorf("database directory: %w", err)
	}
	return nil
}

// replicaConfig hands the replication settings of litestream.yml to package
// backup, which reads no configuration files itself.
func (s *instance) replicaConfig(logger *slog.Logger) backup.ReplicaConfig {
	r := s.cfg.DB().Replica
	return backup.ReplicaConfig{
		Type:               r.Type,
		Location:           r.Location(),
		NewClient:          r.NewClient,
		SyncInterval:       r.SyncInterval,
		Levels:             s.cfg.CompactionLevels(),
		SnapshotInterval:   s.cfg.Snapshot.Interval,
		SnapshotRetention:  s.cfg.Snapshot.Retention,
		ValidationInterval: s.cfg.Validation.Interval,
		Logger:             logger,
	}
}

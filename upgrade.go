package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"booking/backup"
)

// upgradeFlags are the flags of "booking upgrade".
type upgradeFlags struct {
	common
	bin       string
	url       string
	timeout   time.Duration
	systemctl string
	unit      string
	rollback  bool
	restore   bool
	putBack   string
}

// cmdUpgrade replaces the installed binary with a new one and restarts the
// service, and goes back by itself when the new version does not become
// healthy:
//
//  1. the new binary must run here ("version") and be built for the same
//     target, and know the database's schema;
//  2. the service stops (the port stays open: booking.socket queues new
//     connections), and the database is copied into <data>/upgrades/,
//     stopped so that the copy holds every acknowledged change;
//  3. the installed binary is kept as <bin>.previous, the new one takes its
//     place (renames of copies made before the stop: never a half-written
//     file, and little time with the service down), the service starts;
//  4. it waits until /health/detailed answers "healthy" with the new
//     version. If that does not happen in time, the service stops, the
//     previous binary comes back, and when the new version had already
//     migrated the database the copy from step 2 comes back too (the
//     migrated one is moved aside, never deleted); then the service starts
//     again and the command reports and fails.
//
// Stopping and starting the service is pluggable (-systemctl): systemctl on
// the Pi, a stand-in in the tests, which have no systemd as PID 1. Run as
// root, it touches the database files as their owner (the "booking" user),
// so that the service can still open every file afterwards.
func cmdUpgrade(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("upgrade", flag.ContinueOnError)
	var f upgradeFlags
	f.register(fs)
	fs.StringVar(&f.bin, "bin", "/usr/local/bin/booking", "the installed binary the service runs")
	fs.StringVar(&f.url, "url", "http://127.0.0.1:8080", "where the service answers on this machine")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "how long the new version has to become healthy")
	fs.StringVar(&f.systemctl, "systemctl", "systemctl", `the command that stops and starts the service, run as "COMMAND stop UNIT" and "COMMAND start UNIT" (split at spaces)`)
	fs.StringVar(&f.unit, "unit", "booking.service", "the service's unit")
	fs.BoolVar(&f.rollback, "rollback", false, "go back to the binary from before the last upgrade")
	fs.BoolVar(&f.restore, "restore-backup", false, "with --rollback: also go back to the database copied before the upgrade when the newer version has migrated it")
	fs.StringVar(&f.putBack, "put-back", "", "the rollback's own step, run with the older binary as the data's owner: make this copy the database again")
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageError(fmt.Sprintf("%v; see \"booking help\"", err))
	}
	switch {
	case f.putBack != "":
		return putBack(ctx, &f.common, f.putBack, stdout)
	case f.rollback && fs.NArg() != 0:
		return usageError("upgrade --rollback takes no binary")
	case !f.rollback && fs.NArg() != 1:
		return usageError(`upgrade needs the new binary: booking upgrade [flags] NEW-BINARY; see "booking help"`)
	}
	u, err := f.prepare(stdout)
	if err != nil {
		return err
	}
	if f.rollback {
		return u.rollbackOnDemand(ctx, f.restore)
	}
	return u.upgrade(ctx, fs.Arg(0))
}

// upgrader is one run of "booking upgrade".
type upgrader struct {
	f        *upgradeFlags
	out      io.Writer
	cfgPath  string
	dbPath   string
	dir      string // <data>/upgrades: the copies and the record
	owner    *syscall.Credential
	previous string // <bin>.previous
}

func (f *upgradeFlags) prepare(stdout io.Writer) (*upgrader, error) {
	s, err := f.load()
	if err != nil {
		return nil, err
	}
	u := &upgrader{f: f, out: stdout, previous: f.bin + ".previous"}
	if u.cfgPath, err = filepath.Abs(f.config); err != nil {
		return nil, err
	}
	if u.dbPath, err = filepath.Abs(s.dbPath); err != nil {
		return nil, err
	}
	u.dir = filepath.Join(filepath.Dir(u.dbPath), "upgrades")
	// Root works on the data as the owner of the data folder.
	if fi, err := os.Stat(filepath.Dir(u.dbPath)); err == nil && os.Geteuid() == 0 {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
			u.owner = &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
		}
	}
	return u, nil
}

// upgradeRecord is <data>/upgrades/last.json: what --rollback goes back to.
type upgradeRecord struct {
	At         time.Time `json:"at"`
	From       string    `json:"from"`
	FromSchema int       `json:"from_schema"` // the database's, before
	To         string    `json:"to"`
	ToSchema   int       `json:"to_schema"` // the new binary's
	Backup     string    `json:"backup"`
	Outcome    string    `json:"outcome"`
}

func (u *upgrader) upgrade(ctx context.Context, newBin string) error {
	started := time.Now()
	newBin, err := filepath.Abs(newBin)
	if err != nil {
		return err
	}
	next, err := binaryVersion(ctx, newBin)
	if err != nil {
		return fmt.Errorf("the new binary does not run here: %w", err)
	}
	cur, err := binaryVersion(ctx, u.f.bin)
	if err != nil {
		return fmt.Errorf("the installed binary %s: %w", u.f.bin, err)
	}
	if next.platform() != cur.platform() {
		return fmt.Errorf("the new binary is built for %s, this machine runs %s: take the %s release", next.Target, cur.Target, cur.Target)
	}
	fmt.Fprintf(u.out, "Upgrading %s to %s (%s)\n", cur.Version, next.Version, next.Target)
	// Copies of both binaries beside the installed one before the service
	// stops: while it is down only renames happen.
	stagedNew, err := stageCopy(newBin, u.f.bin)
	if err != nil {
		return fmt.Errorf("copying the new binary beside %s: %w", u.f.bin, err)
	}
	defer os.Remove(stagedNew)
	stagedPrev, err := stageCopy(u.f.bin, u.f.bin)
	if err != nil {
		return fmt.Errorf("copying the installed binary: %w", err)
	}
	defer os.Remove(stagedPrev)

	if err := u.serviceCtl(ctx, "stop"); err != nil {
		return err
	}
	rec, err := u.backUp(ctx, cur.Version)
	if err != nil {
		return errors.Join(err, u.startAgain(ctx, "the backup failed"))
	}
	if next.Schema < rec.FromSchema {
		return errors.Join(fmt.Errorf("%s knows the database schema up to %d, but the database is at %d: it would not start", next.Version, next.Schema, rec.FromSchema),
			u.startAgain(ctx, "refused the new binary"))
	}
	rec.To, rec.ToSchema, rec.Outcome = next.Version, next.Schema, "started"
	if err := u.swap(stagedPrev, stagedNew); err != nil {
		return errors.Join(err, u.startAgain(ctx, "the new binary could not be put in place"))
	}
	if err := u.save(rec); err != nil {
		return err
	}
	fmt.Fprintf(u.out, "  kept the previous binary as %s\n", u.previous)
	if err := u.serviceCtl(ctx, "start"); err != nil {
		return u.goBack(ctx, rec, err)
	}
	if err := u.waitHealthy(ctx, next.Version); err != nil {
		return u.goBack(ctx, rec, err)
	}
	rec.Outcome = "upgraded"
	if err := u.save(rec); err != nil {
		return err
	}
	fmt.Fprintf(u.out, "Upgraded to %s in %s; it is healthy.\n  Back to %s: sudo booking upgrade --rollback\n",
		next.Version, time.Since(started).Round(time.Millisecond), cur.Version)
	return nil
}

// backUp copies the stopped database into <data>/upgrades/ and notes its
// schema, both as the database's owner.
func (u *upgrader) backUp(ctx context.Context, version string) (*upgradeRecord, error) {
	rec := &upgradeRecord{At: time.Now().UTC(), From: version}
	if _, err := os.Stat(u.dbPath); errors.Is(err, os.ErrNotExist) {
		return rec, nil // nothing to lose yet
	}
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	if u.owner != nil {
		if err := os.Chown(u.dir, int(u.owner.Uid), int(u.owner.Gid)); err != nil {
			return nil, fmt.Errorf("upgrade: %w", err)
		}
	}
	out, err := u.asOwner(ctx, u.f.bin, "check-config", "-config", u.cfgPath, "--schema")
	if err != nil {
		return nil, fmt.Errorf("reading the database's schema: %w", err)
	}
	if rec.FromSchema, err = strconv.Atoi(strings.TrimSpace(out)); err != nil {
		return nil, fmt.Errorf("reading the database's schema: %q", out)
	}
	rec.Backup = filepath.Join(u.dir, fmt.Sprintf("booking-%s-%s.db", safeName(version), rec.At.Format("20060102T150405Z")))
	if _, err := u.asOwner(ctx, u.f.bin, "backup", "-config", u.cfgPath, "-o", rec.Backup); err != nil {
		return nil, fmt.Errorf("backing up the database: %w", err)
	}
	fmt.Fprintf(u.out, "  copied the database (schema %d) to %s\n", rec.FromSchema, rec.Backup)
	return rec, nil
}

// swap keeps the installed binary as .previous and renames the new one in
// its place, so that the path always holds a whole binary.
func (u *upgrader) swap(stagedPrev, stagedNew string) error {
	if err := os.Rename(stagedPrev, u.previous); err != nil {
		return fmt.Errorf("keeping the previous binary: %w", err)
	}
	return os.Rename(stagedNew, u.f.bin)
}

// goBack is the automatic rollback after a failed start.
func (u *upgrader) goBack(ctx context.Context, rec *upgradeRecord, cause error) error {
	started := time.Now()
	fmt.Fprintf(u.out, "The new version failed: %v\nRolling back to %s\n", cause, rec.From)
	if err := u.restoreOld(ctx, rec, true); err != nil {
		return fmt.Errorf("%w; and rolling back failed: %v", cause, err)
	}
	rec.Outcome = "rolled back automatically"
	u.save(rec)
	fmt.Fprintf(u.out, "Rolled back to %s in %s; it is healthy.\n", rec.From, time.Since(started).Round(time.Millisecond))
	return fmt.Errorf("upgrade to %s failed (%v); rolled back to %s", rec.To, cause, rec.From)
}

// rollbackOnDemand is "booking upgrade --rollback".
func (u *upgrader) rollbackOnDemand(ctx context.Context, restore bool) error {
	started := time.Now()
	rec, err := u.load()
	if err != nil {
		return err
	}
	prev, err := binaryVersion(ctx, u.previous)
	if err != nil {
		return fmt.Errorf("no previous binary to go back to (%s): %w", u.previous, err)
	}
	// The database as it is now: has the newer version migrated it?
	out, err := u.asOwner(ctx, u.f.bin, "check-config", "-config", u.cfgPath, "--schema")
	if err != nil {
		return fmt.Errorf("reading the database's schema: %w", err)
	}
	schema, _ := strconv.Atoi(strings.TrimSpace(out))
	if schema > prev.Schema && !restore {
		return fmt.Errorf("%s migrated the database to schema %d, which %s (schema %d) cannot run on. Going back means going back to the copy made before the upgrade (%s, %s): changes made since would be set aside (kept, not deleted). To do that, run: sudo booking upgrade --rollback --restore-backup",
			rec.To, schema, prev.Version, prev.Schema, rec.Backup, rec.At.Local().Format("2006-01-02 15:04"))
	}
	fmt.Fprintf(u.out, "Rolling back to %s\n", prev.Version)
	if err := u.serviceCtl(ctx, "stop"); err != nil {
		return err
	}
	rec.From, rec.FromSchema = prev.Version, prev.Schema
	if err := u.restoreOld(ctx, rec, false); err != nil {
		return err
	}
	rec.Outcome = "rolled back on demand"
	u.save(rec)
	fmt.Fprintf(u.out, "Rolled back to %s in %s; it is healthy.\n", prev.Version, time.Since(started).Round(time.Millisecond))
	return nil
}

// restoreOld stops the service (unless stopped), puts the previous binary
// back (the newer one stays as <bin>.failed), puts the database copy back
// when the newer version migrated the database, starts the service and
// waits until the old version is healthy.
func (u *upgrader) restoreOld(ctx context.Context, rec *upgradeRecord, stop bool) error {
	if stop {
		if err := u.serviceCtl(ctx, "stop"); err != nil {
			return err
		}
	}
	// The service is stopped: plain renames.
	if err := os.Rename(u.f.bin, u.f.bin+".failed"); err != nil {
		return fmt.Errorf("setting the newer binary aside: %w", err)
	}
	if err := os.Rename(u.previous, u.f.bin); err != nil {
		return fmt.Errorf("putting the previous binary back: %w", err)
	}
	fmt.Fprintf(u.out, "  put the previous binary back (the newer one is %s.failed)\n", u.f.bin)
	out, err := u.asOwner(ctx, u.f.bin, "check-config", "-config", u.cfgPath, "--schema")
	if err != nil {
		return fmt.Errorf("reading the database's schema: %w", err)
	}
	if schema, _ := strconv.Atoi(strings.TrimSpace(out)); schema > rec.FromSchema {
		if err := u.putBackDatabase(ctx, rec.Backup); err != nil {
			return err
		}
		fmt.Fprintf(u.out, "  the newer version had migrated the database (schema %d > %d): put back the copy from before the upgrade\n", schema, rec.FromSchema)
	} else {
		fmt.Fprintf(u.out, "  the database was not migrated (schema %d): kept it as it is\n", schema)
	}
	if err := u.serviceCtl(ctx, "start"); err != nil {
		return err
	}
	return u.waitHealthy(ctx, rec.From)
}

// putBackDatabase makes the pre-upgrade copy the database again; the
// migrated one moves aside. The binary in place by now is the older one:
// it does this (as the data's owner), because opening the database with the
// newer one's store would migrate the copy straight back.
func (u *upgrader) putBackDatabase(ctx context.Context, copyPath string) error {
	if copyPath == "" {
		return errors.New("there is no copy of the database from before the upgrade")
	}
	out, err := u.asOwner(ctx, u.f.bin, "upgrade", "-config", u.cfgPath, "-put-back", copyPath)
	if err != nil {
		return err
	}
	fmt.Fprint(u.out, out)
	return nil
}

// putBack is "booking upgrade -put-back COPY": the database lock proves
// the server is stopped.
func putBack(ctx context.Context, c *common, copyPath string, stdout io.Writer) error {
	s, err := c.load()
	if err != nil {
		return err
	}
	lock, err := backup.LockDatabase(s.dbPath, "upgrade")
	if err != nil {
		return err
	}
	defer lock.Release()
	aside, err := backup.PutBack(ctx, lock, copyPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  the migrated database is in %s\n", aside)
	return nil
}

// startAgain starts the service after a failure before the swap, with the
// binary it had.
func (u *upgrader) startAgain(ctx context.Context, why string) error {
	fmt.Fprintf(u.out, "Nothing changed (%s); starting the service again\n", why)
	return u.serviceCtl(ctx, "start")
}

// serviceCtl runs "<systemctl> stop|start <unit>".
func (u *upgrader) serviceCtl(ctx context.Context, verb string) error {
	argv := append(strings.Fields(u.f.systemctl), verb, u.f.unit)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v %s", strings.Join(argv, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// waitHealthy waits until /health/detailed answers "healthy" from version.
func (u *upgrader) waitHealthy(ctx context.Context, version string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(u.f.timeout)
	last := "no answer"
	for {
		var h struct{ Status, Version string }
		res, err := client.Get(strings.TrimRight(u.f.url, "/") + "/health/detailed")
		if err == nil {
			err = json.NewDecoder(res.Body).Decode(&h)
			res.Body.Close()
		}
		switch {
		case err != nil:
			last = err.Error()
		case h.Version != version:
			last = fmt.Sprintf("version %s answers", h.Version)
		case h.Status == "healthy":
			return nil
		default:
			last = fmt.Sprintf("%s is %s", version, h.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy within %s (last: %s)", u.f.timeout, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// asOwner runs a command of a booking binary as the data's owner and
// returns its standard output.
func (u *upgrader) asOwner(ctx context.Context, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if u.owner != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.owner}
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v %s", filepath.Base(bin), args[0], err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func (u *upgrader) save(rec *upgradeRecord) error {
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(u.dir, "last.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(u.dir, "last.json"))
}

func (u *upgrader) load() (*upgradeRecord, error) {
	b, err := os.ReadFile(filepath.Join(u.dir, "last.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no upgrade to roll back (%s has no last.json)", u.dir)
	} else if err != nil {
		return nil, err
	}
	var rec upgradeRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(u.dir, "last.json"), err)
	}
	return &rec, nil
}

// binaryInfo is what "booking version" says about a binary.
type binaryInfo struct {
	Version, Target string
	Schema          int
}

// platform is GOOS/GOARCH without the ARM level: an armv7 Pi runs either.
func (b binaryInfo) platform() string {
	p := strings.Split(b.Target, "/")
	if len(p) > 2 {
		p = p[:2]
	}
	return strings.Join(p, "/")
}

var versionLine = regexp.MustCompile(`^booking (\S+) \((\S+), (\S+), schema (\d+)\)\s*$`)

// binaryVersion runs "BINARY version" and reads its line.
func binaryVersion(ctx context.Context, bin string) (binaryInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return binaryInfo{}, fmt.Errorf("%s version: %w", bin, err)
	}
	m := versionLine.FindStringSubmatch(string(out))
	if m == nil {
		return binaryInfo{}, fmt.Errorf("%s version: not a booking binary: %q", bin, strings.TrimSpace(string(out)))
	}
	schema, _ := strconv.Atoi(m[4])
	return binaryInfo{Version: m[1], Target: m[3], Schema: schema}, nil
}

// stageCopy copies the binary from into a new executable file in the folder
// of beside, synced to disk, ready to be renamed into place.
func stageCopy(from, beside string) (string, error) {
	in, err := os.Open(from)
	if err != nil {
		return "", err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(beside), "."+filepath.Base(beside)+".staged-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(tmp, in)
	if err == nil {
		err = tmp.Chmod(0o755)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// safeName keeps a version string fit for a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

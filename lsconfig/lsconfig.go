// Package lsconfig reads litestream.yml in the schema of the Litestream v0.5
// command line tool.
//
// The server embeds Litestream as a library, but the administrator restores
// with the litestream CLI, so both must read the same file. Upstream's parser
// lives in package main and cannot be imported, and it silently ignores keys it
// does not know: a misspelt "retension" would quietly leave one day of history
// instead of thirty. This package accepts the subset of the schema the server
// needs and rejects everything else with the file name and line number.
package lsconfig

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/benbjohnson/litestream"
)

// Config is a parsed litestream.yml. Durations that are zero were not set in the
// file; the caller leaves Litestream's own default in place for those.
type Config struct {
	DBs        []DBConfig
	Snapshot   SnapshotConfig
	Levels     []LevelConfig
	Validation ValidationConfig
}

// SnapshotConfig is the top-level "snapshot" section. Retention bounds how far
// back a point-in-time restore can go: Litestream deletes older snapshots and
// every compacted file that only they need.
type SnapshotConfig struct {
	Interval  time.Duration
	Retention time.Duration
}

// LevelConfig is one entry of "levels": how often files of the level below are
// compacted into this level (L1 is the first entry).
type LevelConfig struct {
	Interval time.Duration
}

// ValidationConfig is the top-level "validation" section. Zero leaves the
// periodic replica validation off, as upstream does.
type ValidationConfig struct {
	Interval time.Duration
}

// DBConfig is one entry of "dbs". After a successful Parse, Replica is never
// nil: a database without a replica would give a false sense of safety.
type DBConfig struct {
	Path    string
	Replica *ReplicaConfig
}

// ReplicaConfig holds the replica keys as written in the file (after
// environment expansion), except Type, which Parse sets to the effective type
// ("file", "s3" or "sftp") the way upstream derives it from url and type.
// URL parts are not copied into the other fields, so that NewClient can apply
// upstream's precedence rules between url and the separate keys.
type ReplicaConfig struct {
	Type         string
	URL          string
	Path         string
	SyncInterval time.Duration

	// S3.
	Bucket          string
	Region          string
	Endpoint        string
	ForcePathStyle  bool
	AccessKeyID     string
	SecretAccessKey string

	// SFTP.
	Host     string
	User     string
	Password string
	KeyPath  string
	HostKey  string

	// forcePathStyleSet records that force-path-style appeared in the file:
	// upstream turns path style on by default for custom endpoints, so an
	// explicit "false" must be told apart from an absent key.
	forcePathStyleSet bool
}

// MaxLevels is the number of compaction levels Litestream allows above L0:
// level 9 is reserved for snapshots.
const MaxLevels = litestream.SnapshotLevel - 1

// Error is a problem in the configuration file. Line is 0 when the problem
// concerns the file as a whole.
type Error struct {
	Name string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Name, e.Line, e.Msg)
	}
	return e.Name + ": " + e.Msg
}

// Load reads the file at path, expands environment variables the way the
// litestream CLI does (including its $PID), and resolves relative paths
// against the working directory, as the CLI does: start the server from the
// directory the paths are relative to.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lsconfig: %w", err)
	}
	cfg, err := Parse(data, path, cliGetenv)
	if err != nil {
		return nil, err
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("lsconfig: %w", err)
	}
	if err := cfg.ResolvePaths(wd); err != nil {
		return nil, fmt.Errorf("lsconfig: %s: %w", path, err)
	}
	return cfg, nil
}

// cliGetenv mirrors the litestream CLI, which offers the process id as $PID
// on top of the environment.
func cliGetenv(key string) string {
	if key == "PID" {
		return strconv.Itoa(os.Getpid())
	}
	return os.Getenv(key)
}

// Parse parses and validates the contents of a litestream.yml. name is used
// in error messages. getenv expands $VAR and ${VAR} in the raw text before it
// is parsed, like the CLI (os.Expand, so "$" followed by anything else is
// also consumed), line by line so that errors keep their line numbers; nil
// disables expansion like the CLI's -no-expand-env.
// Paths are returned as written: see ResolvePaths.
//
// Every problem found is reported, one line each, joined with errors.Join;
// each is an *Error.
//
// Unlike the CLI, a variable that is unset (or empty) outside a comment is an
// error naming it and its line: "path: ${X}/replica" would otherwise
// replicate to /replica on the root file system.
func Parse(data []byte, name string, getenv func(string) string) (*Config, error) {
	p := &parser{name: name}
	if getenv != nil {
		data = p.expand(data, getenv)
	}
	cfg := p.parse(data)
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// ResolvePaths makes the database path and a file replica's path absolute,
// expanding a leading "~" to the current user's home directory and joining
// relative paths to dir (the working directory when dir is empty), which is
// what the CLI does with its working directory.
func (c *Config) ResolvePaths(dir string) error {
	for i := range c.DBs {
		db := &c.DBs[i]
		p, err := expandPath(db.Path, dir)
		if err != nil {
			return err
		}
		db.Path = p
		if r := db.Replica; r != nil && r.Type == "file" && r.Path != "" {
			if r.Path, err = expandPath(r.Path, dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// expandPath mirrors the CLI's expand(): only "~" and "~/..." name the home
// directory (not "~user"), and the home directory comes from the user
// database rather than $HOME, which systemd services often lack.
func expandPath(p, dir string) (string, error) {
	if p == "" {
		return "", nil
	}
	prefix := "~" + string(os.PathSeparator)
	if p == "~" || strings.HasPrefix(p, prefix) {
		u, err := user.Current()
		if err != nil {
			return "", fmt.Errorf("cannot expand %s: %w", p, err)
		}
		if u.HomeDir == "" {
			return "", fmt.Errorf("cannot expand %s: no home directory", p)
		}
		return filepath.Join(u.HomeDir, strings.TrimPrefix(p[1:], string(os.PathSeparator))), nil
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	if dir == "" {
		return filepath.Abs(p)
	}
	return filepath.Join(dir, p), nil
}

// DB returns the one database the server replicates. Parse guarantees there
// is exactly one.
func (c *Config) DB() DBConfig {
	if len(c.DBs) == 0 {
		return DBConfig{}
	}
	return c.DBs[0]
}

// CompactionLevels returns L0 followed by the configured levels, or
// Litestream's default levels (30s, 5m, 1h) when the file has no "levels",
// which is what the CLI does.
func (c *Config) CompactionLevels() litestream.CompactionLevels {
	if len(c.Levels) == 0 {
		// Copied because the defaults are shared pointers that a caller
		// could otherwise modify for every user of the package.
		levels := make(litestream.CompactionLevels, len(litestream.DefaultCompactionLevels))
		for i, lvl := range litestream.DefaultCompactionLevels {
			v := *lvl
			levels[i] = &v
		}
		return levels
	}
	levels := litestream.CompactionLevels{{Level: 0}}
	for i, lvl := range c.Levels {
		levels = append(levels, &litestream.CompactionLevel{Level: i + 1, Interval: lvl.Interval})
	}
	return levels
}

// maxErrors keeps a badly broken file from producing a wall of messages that
// hides the first, usually most useful, one.
const maxErrors = 20

func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	// Problems are found section by section; reading them in file order is
	// easier when fixing them.
	errs := slices.Clone(p.errs)
	slices.SortStableFunc(errs, func(a, b error) int { return lineOfError(a) - lineOfError(b) })
	if len(errs) > maxErrors {
		errs = append(errs[:maxErrors:maxErrors], &Error{Name: p.name, Msg: fmt.Sprintf("... and %d more problems", len(p.errs)-maxErrors)})
	}
	return errors.Join(errs...)
}

func lineOfError(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}

// expand replaces $VAR and ${VAR} line by line and reports every variable
// that is unset or empty outside a comment. The text after a comment's # is
// expanded too, as the CLI does, but never refused: the shipped file names
// ${LITESTREAM_ACCESS_KEY_ID} in a commented-out example.
func (p *parser) expand(data []byte, getenv func(string) string) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	var out strings.Builder
	out.Grow(len(data))
	for i, line := range lines {
		code, comment := splitComment(line)
		var missing []string
		out.WriteString(os.Expand(code, func(k string) string {
			v := getenv(k)
			if v == "" && !slices.Contains(missing, k) {
				missing = append(missing, k)
			}
			return v
		}))
		out.WriteString(os.Expand(comment, getenv))
		for _, k := range missing {
			p.errs = append(p.errs, &Error{Name: p.name, Line: i + 1,
				Msg: fmt.Sprintf("${%s} is not set (or is empty): set it in the environment the server starts with (e.g. Environment= in the systemd unit) or write the value here; it would become an empty string", k)})
		}
	}
	return []byte(out.String())
}

// splitComment cuts a YAML line where its comment starts: at a # that
// begins the line or follows a blank, outside quotes.
func splitComment(line string) (code, comment string) {
	var single, double bool
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && double:
			i++
		case c == '"' && !single:
			double = !double
		case c == '\'' && !double:
			single = !single
		case c == '#' && !single && !double && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t'):
			return line[:i], line[i:]
		}
	}
	return line, ""
}

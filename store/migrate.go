package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations ordered by the number that
// starts each file name (0001_init.sql is version 1).
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and _", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d (versions must be 1, 2, 3...)", m.name, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the schema version this program migrates a database to:
// the number of its migrations.
func SchemaVersion() int {
	ms, err := loadMigrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// NewerSchemaError is a database migrated by a newer version of the
// program. Running on it could misread or damage what the newer version
// wrote, so Open refuses it; the caller says how to go back.
type NewerSchemaError struct {
	Database int // the database's schema version
	Known    int // the newest this program knows
}

func (e *NewerSchemaError) Error() string {
	return fmt.Sprintf("the database is at schema version %d, written by a newer version of booking; this one knows schema versions up to %d and will not run on it", e.Database, e.Known)
}

// foreignKeysOff marks a migration that rebuilds a table other tables
// refer to: it runs with foreign keys off (which SQLite only allows outside
// a transaction), and foreign_key_check must be clean before it commits.
const foreignKeysOff = "-- migrate: foreign_keys off"

// migrate applies the migrations the database has not seen yet, each in its
// own transaction together with the bump of user_version, so a crash leaves
// the schema at a known version.
func migrate(ctx context.Context, db *sql.DB) error {
	return migrateUpTo(ctx, db, -1)
}

// migrateUpTo is migrate up to version target (-1: all); tests build older
// databases with it.
func migrateUpTo(ctx context.Context, db *sql.DB, target int) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	if target >= 0 && target < len(ms) {
		ms = ms[:target]
	}
	// One connection for all of it: a pragma holds for its connection only.
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	var current int
	if err := conn.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	all, _ := loadMigrations()
	if current > len(all) {
		return &NewerSchemaError{Database: current, Known: len(all)}
	}
	if current >= len(ms) {
		return nil
	}
	for _, m := range ms[current:] {
		if err := applyMigration(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, conn *sql.Conn, m migration) error {
	fkOff := strings.HasPrefix(m.sql, foreignKeysOff)
	if fkOff {
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return fmt.Errorf("migrate %s: %w", m.name, err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", m.name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migrate %s: %w", m.name, err)
	}
	if fkOff {
		var problems int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM pragma_foreign_key_check`).Scan(&problems); err != nil {
			return fmt.Errorf("migrate %s: foreign key check: %w", m.name, err)
		}
		if problems > 0 {
			return fmt.Errorf("migrate %s: %d rows break a foreign key", m.name, problems)
		}
	}
	// PRAGMA takes no bound parameters; the version is an int we control.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, m.version)); err != nil {
		return fmt.Errorf("migrate %s: set version: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate %s: commit: %w", m.name, err)
	}
	return nil
}

// SchemaOf reads the schema version of the database at path without
// migrating it: 0 for a new, empty file. "booking upgrade" asks it whether a
// new version has already migrated the database.
func SchemaOf(ctx context.Context, path string) (int, error) {
	db, err := sql.Open("sqlite", dsn(path, true, 0))
	if err != nil {
		return 0, fmt.Errorf("schema of %s: %w", path, err)
	}
	defer db.Close()
	var v int
	if err := db.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema of %s: %w", path, err)
	}
	return v, nil
}

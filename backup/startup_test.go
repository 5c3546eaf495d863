package backup

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// breakers turn a good database into what the issue found on real SD
// cards: gone, truncated to zero, overwritten with something that is not
// SQLite, or a fresh SQLite file without the app's tables. Litestream's
// folder stays beside it every time (its position equals the replica's),
// which is the case that made Litestream continue the replica's history
// with the empty state.
var breakers = []struct {
	name    string
	problem string
	wreck   func(t *testing.T, path string)
}{
	{"missing", "missing", func(t *testing.T, path string) { remove(t, path) }},
	{"empty", "empty (0 bytes)", func(t *testing.T, path string) {
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
	}},
	{"not a database", "not a SQLite database", func(t *testing.T, path string) {
		b := make([]byte, 8192)
		rand.Read(b)
		if err := os.WriteFile(path, b, 0o640); err != nil {
			t.Fatal(err)
		}
	}},
	{"no tables", "a database without tables", func(t *testing.T, path string) {
		remove(t, path)
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		// A header page and an empty schema: what SQLite leaves when the
		// app's first migration never committed.
		if _, err := db.Exec(`PRAGMA journal_mode = DELETE; CREATE TABLE x (a); DROP TABLE x`); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}},
}

func remove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

// The database file is unusable and the replica holds bookings: the
// server restores the newest state, with the bad files moved aside and
// never deleted, instead of starting empty and replicating that over the
// backup.
func TestRestoreIfUnusable(t *testing.T) {
	ctx := context.Background()
	for _, b := range breakers {
		t.Run(b.name, func(t *testing.T) {
			cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
			r := newReplicated(t, cfg)
			ids := r.writeBookings(t, 5, 0)
			r.close(t)
			// A clean stop leaves a -wal full of pages; the card lost it
			// too (the case with a -wal is TestRestoreIfUnusableRefusesBesideWAL).
			os.Remove(r.dbPath + "-wal")
			os.Remove(r.dbPath + "-shm")
			b.wreck(t, r.dbPath)
			before, _ := os.ReadFile(r.dbPath)

			res, err := RestoreIfUnusable(ctx, r.dbPath, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res == nil || res.Restored == nil || res.Problem != b.problem {
				t.Fatalf("result %+v, want a restore of a database that is %s", res, b.problem)
			}
			if got := bookingIDs(t, r.dbPath); !slices.Equal(got, ids) {
				t.Errorf("restored bookings %v, want %v", got, ids)
			}
			if res.MovedAside == "" {
				t.Fatal("nothing moved aside")
			}
			if _, err := os.Stat(filepath.Join(res.MovedAside, ".booking.db-litestream")); err != nil {
				t.Errorf("Litestream's folder was not moved aside: %v", err)
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(r.dbPath), ".booking.db-litestream")); err == nil {
				t.Error("Litestream's old folder is still beside the restored database")
			}
			if b.name != "missing" {
				kept, err := os.ReadFile(filepath.Join(res.MovedAside, "booking.db"))
				if err != nil || !slices.Equal(kept, before) {
					t.Errorf("the bad file was not kept as it was: %v", err)
				}
			}
		})
	}
}

// A -wal beside an empty or missing database may hold every booking since
// the last checkpoint (10 MB of them in the issue). Nothing may delete,
// move or replay it behind the administrator's back: refuse, and say how
// to restore.
func TestRestoreIfUnusableRefusesBesideWAL(t *testing.T) {
	ctx := context.Background()
	for _, b := range breakers[:2] {
		t.Run(b.name, func(t *testing.T) {
			cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
			r := newReplicated(t, cfg)
			r.writeBookings(t, 5, 0)
			r.close(t)
			wal, err := os.ReadFile(r.dbPath + "-wal")
			if err != nil || len(wal) <= 32 {
				t.Fatalf("a clean stop left no -wal with pages (%d bytes, %v)", len(wal), err)
			}
			b.wreck(t, r.dbPath)
			res, err := RestoreIfUnusable(ctx, r.dbPath, cfg)
			var ue *UnusableError
			if !errors.As(err, &ue) || res != nil {
				t.Fatalf("got %+v, %v; want an *UnusableError", res, err)
			}
			for _, want := range []string{r.dbPath + "-wal", "booking restore --replace", "Nothing was changed"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal does not say %q:\n%v", want, err)
				}
			}
			if got, _ := os.ReadFile(r.dbPath + "-wal"); !slices.Equal(got, wal) {
				t.Error("the -wal was touched")
			}
			if m, _ := filepath.Glob(r.dbPath + ".before-restore-*"); len(m) > 0 {
				t.Errorf("files were moved aside: %v", m)
			}
		})
	}
	// A -wal of just a header (32 bytes) holds no pages: it is moved aside
	// with the rest.
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
	r := newReplicated(t, cfg)
	ids := r.writeBookings(t, 2, 0)
	r.close(t)
	remove(t, r.dbPath)
	if err := os.Truncate(r.dbPath+"-wal", 32); err != nil {
		t.Fatal(err)
	}
	res, err := RestoreIfUnusable(ctx, r.dbPath, cfg)
	if err != nil || res == nil || res.Restored == nil {
		t.Fatalf("header-only -wal: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(res.MovedAside, "booking.db-wal")); err != nil {
		t.Errorf("the -wal was not moved aside: %v", err)
	}
	if got := bookingIDs(t, r.dbPath); !slices.Equal(got, ids) {
		t.Errorf("restored %v, want %v", got, ids)
	}
}

// With nothing in the replica, a missing or empty file is a first start;
// anything else that is not a database is refused rather than replaced.
// An unreadable replica never lets an unusable database start.
func TestRestoreIfUnusableWithoutBackup(t *testing.T) {
	ctx := context.Background()
	for _, b := range breakers {
		t.Run(b.name, func(t *testing.T) {
			cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
			path := filepath.Join(t.TempDir(), "booking.db")
			os.WriteFile(path, []byte("placeholder"), 0o640)
			b.wreck(t, path)
			res, err := RestoreIfUnusable(ctx, path, cfg)
			switch b.name {
			case "not a database":
				var ue *UnusableError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), "holds no backup") {
					t.Errorf("got %+v, %v; want a refusal", res, err)
				}
			default:
				if err != nil || (res != nil && res.Restored != nil) {
					t.Errorf("got %+v, %v; want a first start", res, err)
				}
			}
			if _, err := RestoreIfUnusable(ctx, path, unreachableSFTP()); err == nil || !strings.Contains(err.Error(), "cannot be read") {
				t.Errorf("unreachable replica: %v", err)
			}
		})
	}
	// A good database is not the replica's business here.
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
	r := newReplicated(t, cfg)
	r.close(t)
	if res, err := RestoreIfUnusable(ctx, r.dbPath, unreachableSFTP()); res != nil || err != nil {
		t.Errorf("a good database: %+v %v", res, err)
	}
}

// Issue 10, item 8: every start that restores moves the bad files into a
// before-restore folder; after 12 of them there were 12 folders. The
// newest KeepSetAside stay, older ones go, and SetAsideFolders tells how
// many there are and how much room they take.
func TestSetAsideFoldersAreBounded(t *testing.T) {
	ctx := context.Background()
	cfg := fileReplica(filepath.Join(t.TempDir(), "replica"))
	r := newReplicated(t, cfg)
	r.writeBookings(t, 2, 0)
	r.close(t)
	var made, removed []string
	for i := range 6 {
		if err := os.Truncate(r.dbPath, 0); err != nil {
			t.Fatal(err)
		}
		os.Remove(r.dbPath + "-wal")
		os.WriteFile(r.dbPath+"-shm", make([]byte, 1000*(i+1)), 0o640) // something to weigh
		res, err := RestoreIfUnusable(ctx, r.dbPath, cfg)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, res.MovedAside)
		removed = append(removed, res.RemovedAside...)
	}
	folders, err := SetAsideFolders(r.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	var total int64
	for _, f := range folders {
		kept = append(kept, f.Path)
		total += f.Size
	}
	if want := made[len(made)-KeepSetAside:]; !slices.Equal(kept, want) {
		t.Errorf("kept %v, want the newest %d: %v", kept, KeepSetAside, want)
	}
	if !slices.Equal(removed, made[:len(made)-KeepSetAside]) {
		t.Errorf("reported removed %v, want %v", removed, made[:len(made)-KeepSetAside])
	}
	for _, p := range removed {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s is still there", p)
		}
	}
	if total != 4000+5000+6000 {
		t.Errorf("total size %d, want the three -shm files", total)
	}
}

package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLockDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "booking.db")
	l, err := LockDatabase(db, "serve")
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDatabase(db, "restore --replace")
	var iu *InUseError
	if !errors.As(err, &iu) || iu.PID != os.Getpid() || iu.Command != "serve" || time.Since(iu.Since) > time.Minute {
		t.Fatalf("second lock: %#v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := LockDatabase(db, "restore --replace")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
	if _, err := ReplaceDatabase(context.Background(), l2, ReplicaConfig{}, RestoreOptions{}); err == nil {
		t.Error("ReplaceDatabase with a released lock")
	}
}

// A second server whose litestream.yml names the database through a
// symbolic link (to the file, or to its folder, or a link to a database
// not created yet) must meet the first one's lock, not take "<link>.lock".
func TestLockDatabaseThroughSymlinks(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o750)
	real := filepath.Join(data, "booking.db")
	fileLink := filepath.Join(dir, "link.db")
	dirLink := filepath.Join(dir, "datalink")
	relLink := filepath.Join(data, "again.db")
	for link, target := range map[string]string{fileLink: real, dirLink: data, relLink: "booking.db"} {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	// Before the database exists (links dangle) and after.
	for _, create := range []bool{false, true} {
		if create {
			os.WriteFile(real, nil, 0o640)
		}
		l, err := LockDatabase(real, "serve")
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []string{fileLink, filepath.Join(dirLink, "booking.db"), relLink} {
			if _, err := LockDatabase(other, "serve"); !errors.Is(err, ErrDatabaseInUse) {
				t.Errorf("database exists %v: locking %s while %s is locked: %v", create, other, real, err)
			}
			if got, err := RealPath(other); err != nil || got != real {
				t.Errorf("RealPath(%s) = %q, %v; want %s", other, got, err, real)
			}
		}
		l.Release()
	}
	if _, err := os.Stat(fileLink + ".lock"); err == nil {
		t.Error("a lock file beside the link")
	}
}

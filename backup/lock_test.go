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

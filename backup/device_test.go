package backup

import (
	"path/filepath"
	"testing"
)

// TestOnSameDevice: a replica folder beside the database is on its disk,
// also before the folder exists; one on another file system (here /proc,
// which every Linux has) is not; a replica that is no folder never is.
func TestOnSameDevice(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "booking.db")
	for _, tc := range []struct {
		replica string
		want    bool
	}{
		{filepath.Join(dir, "data", "replica"), true},
		{filepath.Join(dir, "not", "yet", "there"), true},
		{"/proc/booking-replica", false},
	} {
		got, err := OnSameDevice(db, fileReplica(tc.replica))
		if err != nil || got != tc.want {
			t.Errorf("%s: %v, %v; want %v", tc.replica, got, err, tc.want)
		}
	}
	if got, err := OnSameDevice(db, ReplicaConfig{}); got || err != nil {
		t.Errorf("no file replica: %v, %v", got, err)
	}
}

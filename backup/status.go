package backup

import "time"

// ReplicationStatus is a snapshot of the replica's state for the backups
// page, the health endpoints and the metrics.
type ReplicationStatus struct {
	Type          string // file, s3, sftp
	Location      string // where, without secrets
	LastSync      time.Time
	LastError     string
	LastErrorAt   time.Time
	RestoreWindow bool // whether WindowStart and WindowEnd are known
	WindowStart   time.Time
	WindowEnd     time.Time
	Validation    string // result of the last validation, "" if none yet
	ValidationAt  time.Time
	// SameDevice: the replica is a folder on the database's own file
	// system, so it undoes mistakes but dies with the SD card.
	SameDevice bool
}

package backup

import "time"

// ReplicationStatus is a snapshot of the replica's state for the backups
// page, the health endpoints and the metrics.
type ReplicationStatus struct {
	Type        string // file, s3, sftp
	Location    string // where, without secrets
	LastSync    time.Time
	LastError   string
	LastErrorAt time.Time
	// Failing is set while the replica does not take changes: from an
	// error until the next successful sync. FailingSince is when it began.
	Failing      bool
	FailingSince time.Time
	// Errors counts failed attempts to reach or write the replica since the
	// start, by reason (every one of ErrorReasons, zero or more).
	Errors map[string]uint64
	// Stopped says why nothing is replicated, "" while replication runs:
	// it refused to start over a replica that is ahead of the database
	// (ErrReplicaAhead), or it was halted because the database is damaged.
	Stopped       string
	RestoreWindow bool // whether WindowStart and WindowEnd are known
	WindowStart   time.Time
	WindowEnd     time.Time
	Validation    string // result of the last validation, "" if none yet
	ValidationAt  time.Time
	// SameDevice: the replica is a folder on the database's own file
	// system, so it undoes mistakes but dies with the SD card.
	SameDevice bool
}

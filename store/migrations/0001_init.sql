-- Timestamps are RFC 3339 UTC text; calendar dates are YYYY-MM-DD text in the
-- house's time zone, so they sort and compare as strings.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    name          TEXT    NOT NULL,
    role          TEXT    NOT NULL CHECK (role IN ('member', 'admin')),
    state         TEXT    NOT NULL CHECK (state IN ('invited', 'registered', 'verified', 'approved', 'rejected', 'disabled')),
    password_hash TEXT    NOT NULL DEFAULT '',
    language      TEXT    NOT NULL DEFAULT '',
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
) STRICT;

CREATE TABLE accommodations (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('room', 'tent', 'camper', 'other')),
    beds        INTEGER NOT NULL CHECK (beds BETWEEN 1 AND 100),
    active      INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    sort_order  INTEGER NOT NULL DEFAULT 0,
    description TEXT    NOT NULL DEFAULT '',
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
) STRICT;

CREATE TABLE bookings (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id),
    arrival    TEXT    NOT NULL,
    departure  TEXT    NOT NULL,
    notes      TEXT    NOT NULL DEFAULT '',
    status     TEXT    NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'cancelled')),
    reason     TEXT    NOT NULL DEFAULT '',
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    CHECK (departure > arrival)
) STRICT;

-- The capacity check and the calendar look for bed-holding bookings that
-- overlap a range: departure > from AND arrival < to.
CREATE INDEX bookings_holding ON bookings (departure, arrival) WHERE status IN ('pending', 'accepted');
CREATE INDEX bookings_user ON bookings (user_id, arrival);
CREATE INDEX bookings_status ON bookings (status, arrival);

CREATE TABLE booking_items (
    booking_id       INTEGER NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    accommodation_id INTEGER NOT NULL REFERENCES accommodations (id),
    persons          INTEGER NOT NULL CHECK (persons BETWEEN 1 AND 20),
    PRIMARY KEY (booking_id, accommodation_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX booking_items_accommodation ON booking_items (accommodation_id);

CREATE TABLE booking_events (
    id         INTEGER PRIMARY KEY,
    booking_id INTEGER NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    actor_id   INTEGER REFERENCES users (id),
    kind       TEXT    NOT NULL CHECK (kind IN ('created', 'edited', 'accepted', 'rejected', 'cancelled')),
    at         TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    before     TEXT    NOT NULL DEFAULT '',
    after      TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX booking_events_booking ON booking_events (booking_id, id);

-- The layout scs/v2's SQLite stores use: expiry is a julian day number.
CREATE TABLE sessions (
    token  TEXT PRIMARY KEY,
    data   BLOB NOT NULL,
    expiry REAL NOT NULL
) STRICT;

CREATE INDEX sessions_expiry ON sessions (expiry);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- One-time links (first administrator, invitations, password resets). Only
-- a hash of the token is kept, so a copy of the database opens no accounts.
CREATE TABLE tokens (
    hash       TEXT    PRIMARY KEY,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('setup', 'invite', 'reset')),
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

-- migrate: foreign_keys off
--
-- Booking ids are never handed out twice: an old link or mail must not
-- point at somebody else's stay. AUTOINCREMENT keeps the highest id ever
-- used in sqlite_sequence even when rows go away, and gives a restore a
-- place to raise it above the ids the lost bookings had (see
-- RaiseBookingIDs). SQLite cannot add AUTOINCREMENT to a table, so the
-- table is rebuilt the way SQLite's documentation describes ("Making Other
-- Kinds Of Table Schema Changes"): with foreign keys off, so that dropping
-- the old table does not delete every item, event and night through ON
-- DELETE CASCADE; the children's REFERENCES bookings (id) then name the new
-- table. migrate runs foreign_key_check before it commits.

CREATE TABLE bookings_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
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

-- Inserting the ids records the highest in sqlite_sequence.
INSERT INTO bookings_new (id, user_id, arrival, departure, notes, status, reason, created_at, updated_at)
SELECT id, user_id, arrival, departure, notes, status, reason, created_at, updated_at FROM bookings;

DROP TABLE bookings;
ALTER TABLE bookings_new RENAME TO bookings;

CREATE INDEX bookings_holding ON bookings (departure, arrival) WHERE status IN ('pending', 'accepted');
CREATE INDEX bookings_user ON bookings (user_id, arrival);
CREATE INDEX bookings_status ON bookings (status, arrival);

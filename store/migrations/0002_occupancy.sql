-- The beds each bed-holding booking takes, one row per accommodation and
-- night. The capacity check and the availability read the nights they ask
-- about through the primary key instead of scanning every booking that might
-- overlap; the rows are written in the same transaction as the booking, and
-- removed (through the primary key too) when it is rejected or cancelled.
-- No secondary index: each would be one more page written per booking.
CREATE TABLE occupancy (
    accommodation_id INTEGER NOT NULL REFERENCES accommodations (id),
    night            TEXT    NOT NULL,
    booking_id       INTEGER NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    persons          INTEGER NOT NULL CHECK (persons BETWEEN 1 AND 20),
    PRIMARY KEY (accommodation_id, night, booking_id)
) STRICT, WITHOUT ROWID;

-- Nothing looks up items by accommodation any more, and every index is
-- another page written with each booking.
DROP INDEX IF EXISTS booking_items_accommodation;

-- Existing bookings: one row per night of each pending or accepted stay.
WITH RECURSIVE nights (booking_id, accommodation_id, persons, night, departure) AS (
    SELECT b.id, i.accommodation_id, i.persons, b.arrival, b.departure
    FROM bookings b JOIN booking_items i ON i.booking_id = b.id
    WHERE b.status IN ('pending', 'accepted')
    UNION ALL
    SELECT booking_id, accommodation_id, persons, date(night, '+1 day'), departure
    FROM nights WHERE date(night, '+1 day') < departure
)
INSERT INTO occupancy (accommodation_id, night, booking_id, persons)
SELECT accommodation_id, night, booking_id, persons FROM nights;

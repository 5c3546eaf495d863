package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Migration 3 rebuilds the bookings table with AUTOINCREMENT. A database
// at version 2 keeps every booking with its items, history and nights (a
// DROP TABLE with foreign keys on would have deleted them all through ON
// DELETE CASCADE), and the ids carry on where they were.
func TestMigrationKeepsBookingsAndIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", dsn(path, false, 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateUpTo(ctx, db, 2); err != nil {
		t.Fatal(err)
	}
	now := timestamp(time.Now())
	for _, q := range []string{
		`INSERT INTO users (id, email, name, role, state, created_at, updated_at) VALUES (1, 'a@example.org', 'Anna', 'member', 'approved', '` + now + `', '` + now + `')`,
		`INSERT INTO accommodations (id, name, kind, beds, created_at, updated_at) VALUES (1, 'Zelt', 'tent', 4, '` + now + `', '` + now + `')`,
		`INSERT INTO bookings (id, user_id, arrival, departure, status, created_at, updated_at) VALUES (7, 1, '2026-08-10', '2026-08-12', 'pending', '` + now + `', '` + now + `')`,
		`INSERT INTO bookings (id, user_id, arrival, departure, status, created_at, updated_at) VALUES (41, 1, '2026-09-10', '2026-09-11', 'accepted', '` + now + `', '` + now + `')`,
		`INSERT INTO booking_items (booking_id, accommodation_id, persons) VALUES (7, 1, 2), (41, 1, 1)`,
		`INSERT INTO booking_events (booking_id, actor_id, kind, at) VALUES (7, 1, 'created', '` + now + `'), (41, 1, 'created', '` + now + `')`,
		`INSERT INTO occupancy (accommodation_id, night, booking_id, persons) VALUES (1, '2026-08-10', 7, 2), (1, '2026-08-11', 7, 2), (1, '2026-09-10', 41, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for table, want := range map[string]int{"bookings": 2, "booking_items": 2, "booking_events": 2, "occupancy": 3} {
		var n int
		if err := s.reader.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}
	var schema string
	s.reader.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'bookings'`).Scan(&schema)
	if !strings.Contains(schema, "AUTOINCREMENT") {
		t.Errorf("bookings: %s", schema)
	}
	var indexes int
	s.reader.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'bookings' AND sql IS NOT NULL`).Scan(&indexes)
	if indexes != 3 {
		t.Errorf("bookings has %d indexes, want its 3 back", indexes)
	}
	var fkProblems int
	s.reader.QueryRow(`SELECT COUNT(*) FROM pragma_foreign_key_check`).Scan(&fkProblems)
	if fkProblems != 0 {
		t.Errorf("%d foreign key problems", fkProblems)
	}
	var fk int
	s.writer.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	if fk != 1 {
		t.Error("foreign keys are off after the migration")
	}
	u, err := s.User(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateBooking(ctx, u, BookingInput{Arrival: s.Today().AddDays(3), Departure: s.Today().AddDays(4), Items: []Item{{AccommodationID: 1, Persons: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != 42 {
		t.Errorf("the next booking got id %d, want 42", b.ID)
	}
}

// RaiseBookingIDs: after a restore, ids continue above what was handed out
// before, whatever the restored file remembers; it never lowers them.
func TestRaiseBookingIDs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	b1, err := f.s.CreateBooking(ctx, f.member, BookingInput{Arrival: today + 1, Departure: today + 2, Items: []Item{{AccommodationID: f.tent.ID, Persons: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	path := f.s.Path()
	f.s.Close()
	if got, err := HighestBookingID(ctx, path); err != nil || got != b1.ID {
		t.Fatalf("HighestBookingID = %d, %v; want %d", got, err, b1.ID)
	}
	if n, err := RecentBookings(ctx, path, 10*time.Second); err != nil || n != 1 {
		t.Errorf("RecentBookings = %d, %v; want 1", n, err)
	}
	if err := RaiseBookingIDs(ctx, path, 1000); err != nil {
		t.Fatal(err)
	}
	if err := RaiseBookingIDs(ctx, path, 10); err != nil { // never down
		t.Fatal(err)
	}
	if got, _ := HighestBookingID(ctx, path); got != 1000 {
		t.Errorf("after raising: %d", got)
	}
	s, err := Open(ctx, path, Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	b2, err := s.CreateBooking(ctx, f.member, BookingInput{Arrival: today + 3, Departure: today + 4, Items: []Item{{AccommodationID: f.tent.ID, Persons: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if b2.ID != 1001 {
		t.Errorf("the next id is %d, want 1001", b2.ID)
	}
	// A file that is not a database has no ids to tell.
	if _, err := HighestBookingID(ctx, filepath.Join(t.TempDir(), "none.db")); err == nil {
		t.Error("HighestBookingID of a missing file")
	}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
)

// A group of changes commits together; the one that fails (after it had
// already written) and the one that panics are rolled back to their own
// savepoints and get their own errors; the others are kept; a caller that
// went away is not run at all.
func TestGroupCommit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	gone, cancel := context.WithCancel(ctx)
	cancel()
	put := func(key string) func(tx *sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, 'x')`, key)
			return err
		}
	}
	refused := errors.New("refused")
	batch := []*groupedWrite{
		{ctx: ctx, fn: put("g1")},
		{ctx: ctx, fn: func(tx *sql.Tx) error {
			if err := put("g2")(tx); err != nil {
				return err
			}
			return refused
		}},
		{ctx: ctx, fn: func(tx *sql.Tx) error {
			put("g3")(tx)
			panic("boom")
		}},
		{ctx: gone, fn: put("g4")},
		{ctx: ctx, fn: put("g1")}, // a UNIQUE violation: sees g1 of the same group
		{ctx: ctx, fn: put("g5")},
		{ctx: Detach(gone), fn: put("g6")}, // went away too, behind a web request's context
	}
	for _, w := range batch {
		w.done = make(chan error, 1)
	}
	gen := f.s.Generation()
	f.s.commitGroup(batch)
	got := make([]error, len(batch))
	for i, w := range batch {
		got[i] = <-w.done
	}
	if got[0] != nil || got[5] != nil {
		t.Errorf("kept changes: %v, %v", got[0], got[5])
	}
	if !errors.Is(got[1], refused) {
		t.Errorf("failing change: %v", got[1])
	}
	if got[2] == nil {
		t.Error("panicking change: no error")
	}
	if !errors.Is(got[3], context.Canceled) || !errors.Is(got[6], context.Canceled) {
		t.Errorf("cancelled callers: %v, %v", got[3], got[6])
	}
	if got[4] == nil || !strings.Contains(got[4].Error(), "UNIQUE") {
		t.Errorf("second g1: %v", got[4])
	}
	rows, err := f.s.reader.QueryContext(ctx, `SELECT key FROM settings WHERE key LIKE 'g%' ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		rows.Scan(&k)
		keys = append(keys, k)
	}
	if len(keys) != 2 || keys[0] != "g1" || keys[1] != "g5" {
		t.Errorf("stored %v, want [g1 g5]", keys)
	}
	if f.s.Generation() != gen+1 {
		t.Errorf("generation %d → %d, want one step for one commit", gen, f.s.Generation())
	}
}

// Many members booking at once: every booking is stored or refused on its
// own, whether or not the committer grouped it with others.
func TestGroupedBookings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.setLimits(t, 18, 0)
	big := f.accommodation(t, "Saal", "room", 100)
	var wg sync.WaitGroup
	errs := make([]error, 60)
	for i := range errs {
		wg.Go(func() {
			arr := today + Date(1+i%20)
			if i%3 == 0 {
				arr = today - 5 // in the past: refused
			}
			_, errs[i] = f.s.CreateBooking(ctx, f.member, BookingInput{Arrival: arr, Departure: arr + 2,
				Items: []Item{{AccommodationID: big.ID, Persons: 1}}})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if i%3 == 0 && err == nil {
			t.Errorf("booking %d in the past was stored", i)
		}
		if i%3 != 0 && err != nil {
			t.Errorf("booking %d: %v", i, err)
		}
		if err == nil {
			ok++
		}
	}
	var n int
	if err := f.s.reader.QueryRowContext(ctx, `SELECT count(*) FROM bookings`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != ok || ok != 40 {
		t.Errorf("%d bookings stored, %d acknowledged, want 40", n, ok)
	}
}

// After Close, a booking change is refused at once instead of waiting for
// a committer that is gone, and closing twice does no harm.
func TestGroupAfterClose(t *testing.T) {
	f := newFixture(t)
	f.s.Close()
	f.s.Close()
	err := f.s.writeGrouped(context.Background(), nil, func(*sql.Tx) error { return nil })
	if !errors.Is(err, errClosed) {
		t.Errorf("after Close: %v", err)
	}
}

package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Booking statuses. Pending and accepted bookings hold beds.
const (
	StatusPending   = "pending"
	StatusAccepted  = "accepted"
	StatusRejected  = "rejected"
	StatusCancelled = "cancelled"
)

// The statements of creating a booking, prepared once when the store opens
// (modernc's prepare costs about as much CPU as running them).
const (
	sqlAllAccommodations = `SELECT ` + accommodationColumns + ` FROM accommodations`
	sqlOccupiedNights    = `SELECT night, sum(persons) FROM occupancy
		WHERE accommodation_id = ? AND night >= ? AND night < ? AND booking_id <> ?
		GROUP BY night`
	sqlUserState     = `SELECT state FROM users WHERE id = ?`
	sqlInsertBooking = `INSERT INTO bookings (user_id, arrival, departure, notes, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'pending', ?, ?) RETURNING id`
	sqlInsertItem  = `INSERT INTO booking_items (booking_id, accommodation_id, persons) VALUES (?, ?, ?)`
	sqlInsertNight = `INSERT INTO occupancy (accommodation_id, night, booking_id, persons) VALUES (?, ?, ?, ?)`
	sqlFreeNights  = `DELETE FROM occupancy WHERE accommodation_id = ? AND night >= ? AND night < ? AND booking_id = ?`
	sqlInsertEvent = `INSERT INTO booking_events (booking_id, actor_id, kind, at, reason, before, after)
		VALUES (?, ?, ?, ?, ?, ?, ?)`
)

var writeStatements = []string{sqlAllAccommodations, sqlOccupiedNights, sqlUserState, sqlInsertBooking, sqlInsertItem, sqlInsertNight, sqlFreeNights, sqlInsertEvent}

// Statuses in display order.
var Statuses = []string{StatusPending, StatusAccepted, StatusRejected, StatusCancelled}

// Limits of the booking rules that are not settings.
const (
	MinPersons    = 1
	MaxPersons    = 20
	MaxNotesRunes = 500
	MaxReasonRune = 500
)

// Item is one accommodation of a booking and how many sleep there.
type Item struct {
	AccommodationID   int64
	AccommodationName string // filled when read
	Kind              string // filled when read
	Persons           int
}

// Booking is a stay at the house.
type Booking struct {
	ID        int64
	UserID    int64
	UserName  string
	Arrival   Date
	Departure Date
	Notes     string
	Status    string
	Reason    string // why it was rejected
	Items     []Item
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Nights is the number of nights of the stay.
func (b *Booking) Nights() int { return int(b.Departure - b.Arrival) }

// Persons is the number of persons over all items.
func (b *Booking) Persons() int {
	n := 0
	for _, it := range b.Items {
		n += it.Persons
	}
	return n
}

// HoldsBeds tells whether the booking counts against capacity.
func (b *Booking) HoldsBeds() bool { return b.Status == StatusPending || b.Status == StatusAccepted }

// BookingInput is what a member asks for when creating or editing.
type BookingInput struct {
	Arrival   Date
	Departure Date
	Items     []Item
	Notes     string
}

// snapshot is what the history keeps of a booking before and after a change.
type snapshot struct {
	Arrival   string         `json:"arrival"`
	Departure string         `json:"departure"`
	Items     []snapshotItem `json:"items"`
	Notes     string         `json:"notes"`
}

type snapshotItem struct {
	AccommodationID int64  `json:"accommodation_id"`
	Name            string `json:"name"`
	Persons         int    `json:"persons"`
}

func snapshotOf(arrival, departure Date, items []Item, notes string) string {
	sn := snapshot{Arrival: arrival.String(), Departure: departure.String(), Notes: notes}
	for _, it := range items {
		sn.Items = append(sn.Items, snapshotItem{it.AccommodationID, it.AccommodationName, it.Persons})
	}
	b, _ := json.Marshal(sn)
	return string(b)
}

// accommodationsByID reads all accommodations inside the transaction, so the
// checks see the same beds and active flags as the commit.
func (s *Store) accommodationsByID(ctx context.Context, tx *sql.Tx) (map[int64]*Accommodation, error) {
	rows, err := s.queryTx(ctx, tx, sqlAllAccommodations)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[int64]*Accommodation{}
	for rows.Next() {
		a, err := scanAccommodation(rows)
		if err != nil {
			return nil, err
		}
		m[a.ID] = a
	}
	return m, rows.Err()
}

// checkBooking applies every booking rule to in. old is the booking being
// edited (nil when creating): its own beds do not count against it, and a
// stay that has begun may keep its arrival date.
func (s *Store) checkBooking(ctx context.Context, tx *sql.Tx, in *BookingInput, old *Booking) error {
	settings := s.Settings()
	today := s.Today()
	var ps problems
	in.Notes = strings.TrimSpace(in.Notes)
	if !plainText(in.Notes, true) {
		ps.add("notes", KeyBadCharacters)
	} else if len([]rune(in.Notes)) > MaxNotesRunes {
		ps.add("notes", KeyTooLong, MaxNotesRunes)
	}
	if in.Arrival < today && (old == nil || in.Arrival != old.Arrival) {
		ps.add("arrival", KeyArrivalPast)
	}
	// A booking for the year 9999 would hold its beds for ever. (An edit
	// may keep an arrival that a shorter horizon set since has passed.)
	if last := s.LastArrival(); in.Arrival > last && (old == nil || in.Arrival != old.Arrival) {
		ps.add("arrival", KeyBeyondHorizon, settings.HorizonMonths, last)
	}
	datesOK := true
	if in.Departure <= in.Arrival {
		ps.add("departure", KeyDepartureBefore)
		datesOK = false
	} else if n := int(in.Departure - in.Arrival); n > settings.MaxNights {
		ps.add("departure", KeyTooManyNights, settings.MaxNights)
		datesOK = false
	}
	if len(in.Items) == 0 {
		ps.add("items", KeyNoItems)
	}
	accs, err := s.accommodationsByID(ctx, tx)
	if err != nil {
		return err
	}
	seen := map[int64]bool{}
	var checkable []Item
	for i := range in.Items {
		it := &in.Items[i]
		field := fmt.Sprintf("items.%d", it.AccommodationID)
		a, ok := accs[it.AccommodationID]
		if !ok {
			ps.add(field, KeyUnknownAcc)
			continue
		}
		it.AccommodationName, it.Kind = a.Name, a.Kind
		if seen[it.AccommodationID] {
			ps.add(field, KeyDuplicateItem)
			continue
		}
		seen[it.AccommodationID] = true
		if it.Persons < MinPersons || it.Persons > MaxPersons {
			ps.add(field, KeyPersonsRange, MinPersons, MaxPersons)
			continue
		}
		// An edit may keep an accommodation that was deactivated after the
		// booking was made, but not put more people in it.
		if !a.Active && !(old != nil && slices.ContainsFunc(old.Items, func(o Item) bool {
			return o.AccommodationID == it.AccommodationID && it.Persons <= o.Persons
		})) {
			ps.add(field, KeyInactiveAcc, a.Name)
			continue
		}
		checkable = append(checkable, *it)
	}
	// Capacity only means something for valid dates; report the other
	// problems first so the member fixes those before seeing bed counts.
	if datesOK && len(ps) == 0 {
		var exclude int64
		if old != nil {
			exclude = old.ID
		}
		for _, it := range checkable {
			night, free, err := s.tightestNight(ctx, tx, accs[it.AccommodationID], in.Arrival, in.Departure, exclude, it.Persons)
			if err != nil {
				return err
			}
			if free < it.Persons {
				ps.add(fmt.Sprintf("items.%d", it.AccommodationID), KeyNoCapacity, it.AccommodationName, max(free, 0), night)
			}
		}
	}
	return ps.err()
}

// sqlPendingBedNights sums a member's bed-nights still to come in bookings
// waiting for a decision: persons x nights from today (or the arrival).
const sqlPendingBedNights = `SELECT CAST(coalesce(sum(i.persons * (julianday(b.departure) - julianday(max(b.arrival, ?)))), 0) AS INTEGER)
	FROM bookings b JOIN booking_items i ON i.booking_id = b.id
	WHERE b.user_id = ? AND b.status = 'pending' AND b.departure > ? AND b.id <> ?`

// bedNights is persons x nights of a stay from today on.
func bedNights(arrival, departure Date, items []Item, today Date) int {
	nights := int(departure - max(arrival, today))
	if nights <= 0 {
		return 0
	}
	n := 0
	for _, it := range items {
		n += it.Persons * nights
	}
	return n
}

// checkPendingCap keeps one member from blocking the house with requests:
// the bed-nights of their bookings waiting for a decision, with in
// (pending after the write), may not exceed the setting. An edit that does
// not add to them is always fine (the limit may have been lowered since).
// Administrators decide on bookings themselves and are not limited.
func (s *Store) checkPendingCap(ctx context.Context, tx *sql.Tx, actor *User, owner int64, in BookingInput, old *Booking) error {
	limit := s.Settings().MaxPendingBedNights
	if limit <= 0 || actor.IsAdmin() {
		return nil
	}
	today := s.Today()
	var exclude int64
	before := 0
	if old != nil {
		exclude = old.ID
		if old.Status == StatusPending {
			before = bedNights(old.Arrival, old.Departure, old.Items, today)
		}
	}
	var others int
	if err := tx.QueryRowContext(ctx, sqlPendingBedNights, today.String(), owner, today.String(), exclude).Scan(&others); err != nil {
		return err
	}
	after := bedNights(in.Arrival, in.Departure, in.Items, today)
	if others+after > limit && after > before {
		return &ValidationError{Problems: []Problem{{Field: "items", Key: KeyPendingCap, Args: []any{others + after, limit}}}}
	}
	return nil
}

// tightestNight finds, for one accommodation and the nights [from, to), the
// first night with fewer than want free beds (or else the night with the
// fewest), counting every bed-holding booking except exclude. Capacity is
// per night: two bookings that overlap the range but not each other do not
// add up.
func (s *Store) tightestNight(ctx context.Context, tx *sql.Tx, a *Accommodation, from, to Date, exclude int64, want int) (Date, int, error) {
	used := make([]int, to-from)
	rows, err := s.queryTx(ctx, tx, sqlOccupiedNights, a.ID, from.String(), to.String(), exclude)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var night string
		var persons int
		if err := rows.Scan(&night, &persons); err != nil {
			return 0, 0, err
		}
		d, err := ParseDate(night)
		if err != nil {
			return 0, 0, err
		}
		used[d-from] += persons
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	night, free := from, a.Beds-used[0]
	for i, u := range used {
		if f := a.Beds - u; f < want {
			return from + Date(i), f, nil
		} else if f < free {
			night, free = from+Date(i), f
		}
	}
	return night, free, nil
}

// insertItems writes a booking's items and the nights they occupy.
func (s *Store) insertItems(ctx context.Context, tx *sql.Tx, bookingID int64, arrival, departure Date, items []Item) error {
	for _, it := range items {
		if _, err := s.execTx(ctx, tx, sqlInsertItem, bookingID, it.AccommodationID, it.Persons); err != nil {
			return err
		}
		for d := arrival; d < departure; d++ {
			if _, err := s.execTx(ctx, tx, sqlInsertNight, it.AccommodationID, d.String(), bookingID, it.Persons); err != nil {
				return err
			}
		}
	}
	return nil
}

// freeBeds gives a booking's beds back (rejected, cancelled, or about to be
// rewritten by an edit). It deletes the rows insertItems wrote, through the
// primary key: occupancy needs no second index, which saves a page write on
// every booking.
func (s *Store) freeBeds(ctx context.Context, tx *sql.Tx, b *Booking) error {
	for _, it := range b.Items {
		if _, err := s.execTx(ctx, tx, sqlFreeNights, it.AccommodationID, b.Arrival.String(), b.Departure.String(), b.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) addEvent(ctx context.Context, tx *sql.Tx, bookingID int64, actor *User, kind, reason, before, after string) error {
	_, err := s.execTx(ctx, tx, sqlInsertEvent, bookingID, actor.ID, kind, timestamp(s.now()), reason, before, after)
	return err
}

// CreateBooking books a stay for actor. The rules and the capacity check run
// inside the write transaction, so two members can never get the same last
// bed. A new booking is pending until an administrator decides.
func (s *Store) CreateBooking(ctx context.Context, actor *User, in BookingInput) (*Booking, error) {
	if !actor.CanBook() {
		return nil, fmt.Errorf("create booking: %w", ErrForbidden)
	}
	in.Items = slices.Clone(in.Items)
	now := timestamp(s.now())
	var id int64
	err := s.writeGrouped(ctx, &id, func(tx *sql.Tx) error {
		// The actor may have been disabled since the session was loaded.
		var state string
		if err := s.queryRowTx(ctx, tx, sqlUserState, actor.ID).Scan(&state); err != nil || state != StateApproved {
			return ErrForbidden
		}
		if err := s.checkBooking(ctx, tx, &in, nil); err != nil {
			return err
		}
		if err := s.checkPendingCap(ctx, tx, actor, actor.ID, in, nil); err != nil {
			return err
		}
		err := s.queryRowTx(ctx, tx, sqlInsertBooking,
			actor.ID, in.Arrival.String(), in.Departure.String(), in.Notes, now, now).Scan(&id)
		if err != nil {
			return err
		}
		if err := s.insertItems(ctx, tx, id, in.Arrival, in.Departure, in.Items); err != nil {
			return err
		}
		if err := s.addEvent(ctx, tx, id, actor, "created", "", "", snapshotOf(in.Arrival, in.Departure, in.Items, in.Notes)); err != nil {
			return err
		}
		return s.queueBookingMail(ctx, tx, MailBookingCreated, actor, &Booking{ID: id, UserID: actor.ID, UserName: actor.Name,
			Arrival: in.Arrival, Departure: in.Departure, Notes: in.Notes, Status: StatusPending, Items: in.Items}, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("create booking: %w", err)
	}
	// Everything is known: no need to read it back. (Items stay in the
	// order given; reads list them in the accommodations' order.)
	at := parseTimestamp(now)
	return &Booking{ID: id, UserID: actor.ID, UserName: actor.Name, Arrival: in.Arrival, Departure: in.Departure,
		Notes: in.Notes, Status: StatusPending, Items: in.Items, CreatedAt: at, UpdatedAt: at}, nil
}

// loadForChange reads a booking inside a write transaction and checks that
// actor may change it: the owner or an administrator.
func (s *Store) loadForChange(ctx context.Context, tx *sql.Tx, actor *User, id int64) (*Booking, error) {
	b, err := s.bookingByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if !b.MayChange(actor) {
		return nil, ErrForbidden
	}
	return b, nil
}

// UpdateBooking changes dates, items or notes. An accepted booking whose
// dates or items a member changes goes back to pending: the administrator
// accepted something else. Changing only the notes keeps the status.
func (s *Store) UpdateBooking(ctx context.Context, actor *User, id int64, in BookingInput) (*Booking, error) {
	in.Items = slices.Clone(in.Items)
	err := s.writeGrouped(ctx, &id, func(tx *sql.Tx) error {
		old, err := s.loadForChange(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		if !old.HoldsBeds() {
			return fmt.Errorf("booking is %s: %w", old.Status, ErrConflict)
		}
		if old.Departure <= s.Today() && !actor.IsAdmin() {
			return fmt.Errorf("stay is over: %w", ErrConflict)
		}
		if err := s.checkBooking(ctx, tx, &in, old); err != nil {
			return err
		}
		oldItems := slices.Clone(old.Items)
		sortItems(oldItems)
		sortItems(in.Items)
		before := snapshotOf(old.Arrival, old.Departure, oldItems, old.Notes)
		after := snapshotOf(in.Arrival, in.Departure, in.Items, in.Notes)
		if before == after {
			return nil
		}
		status := old.Status
		staysChanged := snapshotOf(old.Arrival, old.Departure, oldItems, "") != snapshotOf(in.Arrival, in.Departure, in.Items, "")
		if staysChanged && !actor.IsAdmin() {
			status = StatusPending
		}
		if status == StatusPending {
			if err := s.checkPendingCap(ctx, tx, actor, old.UserID, in, old); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bookings SET arrival = ?, departure = ?, notes = ?, status = ?, updated_at = ? WHERE id = ?`,
			in.Arrival.String(), in.Departure.String(), in.Notes, status, timestamp(s.now()), id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM booking_items WHERE booking_id = ?`, id); err != nil {
			return err
		}
		if err := s.freeBeds(ctx, tx, old); err != nil {
			return err
		}
		if err := s.insertItems(ctx, tx, id, in.Arrival, in.Departure, in.Items); err != nil {
			return err
		}
		if err := s.addEvent(ctx, tx, id, actor, "edited", "", before, after); err != nil {
			return err
		}
		// Administrators hear of a member's change that waits for them
		// again; a change of the notes alone decides nothing.
		if !staysChanged || status != StatusPending || actor.IsAdmin() {
			return nil
		}
		changed := *old
		changed.Arrival, changed.Departure, changed.Notes, changed.Status, changed.Items = in.Arrival, in.Departure, in.Notes, status, in.Items
		return s.queueBookingMail(ctx, tx, MailBookingChanged, actor, &changed, old)
	})
	if err != nil {
		return nil, fmt.Errorf("update booking %d: %w", id, err)
	}
	return s.bookingByID(ctx, s.writer, id)
}

// sortItems puts items in a canonical order so snapshots compare equal
// whatever order a form sent them in.
func sortItems(items []Item) {
	slices.SortFunc(items, func(a, b Item) int { return int(a.AccommodationID - b.AccommodationID) })
}

// AcceptBooking confirms a pending booking. Administrators only. Its beds
// were already held while pending, so no capacity check is needed.
func (s *Store) AcceptBooking(ctx context.Context, actor *User, id int64) error {
	return s.decide(ctx, actor, id, StatusAccepted, "")
}

// RejectBooking refuses a pending booking with a reason the member sees.
func (s *Store) RejectBooking(ctx context.Context, actor *User, id int64, reason string) error {
	reason = strings.TrimSpace(reason)
	var ps problems
	if reason == "" {
		ps.add("reason", KeyRequired)
	} else if !plainText(reason, true) {
		ps.add("reason", KeyBadCharacters)
	} else if len([]rune(reason)) > MaxReasonRune {
		ps.add("reason", KeyTooLong, MaxReasonRune)
	}
	if err := ps.err(); err != nil {
		return err
	}
	return s.decide(ctx, actor, id, StatusRejected, reason)
}

func (s *Store) decide(ctx context.Context, actor *User, id int64, status, reason string) error {
	if !actor.IsAdmin() {
		return fmt.Errorf("%s booking %d: %w", status, id, ErrForbidden)
	}
	err := s.writeGrouped(ctx, &id, func(tx *sql.Tx) error {
		b, err := s.bookingByID(ctx, tx, id)
		if err != nil {
			return err
		}
		if b.Status != StatusPending {
			return fmt.Errorf("booking is %s: %w", b.Status, ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bookings SET status = ?, reason = ?, updated_at = ? WHERE id = ?`,
			status, reason, timestamp(s.now()), id); err != nil {
			return err
		}
		if status == StatusRejected {
			if err := s.freeBeds(ctx, tx, b); err != nil {
				return err
			}
		}
		if err := s.addEvent(ctx, tx, id, actor, status, reason, "", ""); err != nil {
			return err
		}
		kind := MailBookingAccepted
		if status == StatusRejected {
			kind = MailBookingRejected
		}
		b.Status, b.Reason = status, reason
		return s.queueBookingMail(ctx, tx, kind, actor, b, nil)
	})
	if err != nil {
		return fmt.Errorf("%s booking %d: %w", status, id, err)
	}
	return nil
}

// CancelBooking cancels a pending or accepted booking and frees its beds.
// The owner may cancel until the stay is over; an administrator any time.
func (s *Store) CancelBooking(ctx context.Context, actor *User, id int64) error {
	err := s.writeGrouped(ctx, &id, func(tx *sql.Tx) error {
		b, err := s.loadForChange(ctx, tx, actor, id)
		if err != nil {
			return err
		}
		if !b.HoldsBeds() {
			return fmt.Errorf("booking is %s: %w", b.Status, ErrConflict)
		}
		if b.Departure <= s.Today() && !actor.IsAdmin() {
			return fmt.Errorf("stay is over: %w", ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bookings SET status = 'cancelled', updated_at = ? WHERE id = ?`,
			timestamp(s.now()), id); err != nil {
			return err
		}
		if err := s.freeBeds(ctx, tx, b); err != nil {
			return err
		}
		if err := s.addEvent(ctx, tx, id, actor, StatusCancelled, "", "", ""); err != nil {
			return err
		}
		b.Status = StatusCancelled
		return s.queueBookingMail(ctx, tx, MailBookingCancelled, actor, b, nil)
	})
	if err != nil {
		return fmt.Errorf("cancel booking %d: %w", id, err)
	}
	return nil
}

// querier is what both *sql.DB and *sql.Tx offer, so reads can run inside a
// write transaction or on the reader pool.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// listBookings reads bookings with their owners and items in one query.
// where and order are trusted SQL fragments over the alias b.
func listBookings(ctx context.Context, q querier, where, order string, args ...any) ([]*Booking, error) {
	rows, err := q.QueryContext(ctx, `SELECT b.id, b.user_id, u.name, b.arrival, b.departure, b.notes, b.status, b.reason,
			b.created_at, b.updated_at, i.accommodation_id, a.name, a.kind, i.persons
		FROM bookings b
		JOIN users u ON u.id = b.user_id
		JOIN booking_items i ON i.booking_id = b.id
		JOIN accommodations a ON a.id = i.accommodation_id
		WHERE `+where+`
		ORDER BY `+order+`, b.id, a.sort_order, a.name COLLATE NOCASE`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Booking
	var cur *Booking
	for rows.Next() {
		var b Booking
		var it Item
		var arr, dep, created, updated string
		if err := rows.Scan(&b.ID, &b.UserID, &b.UserName, &arr, &dep, &b.Notes, &b.Status, &b.Reason,
			&created, &updated, &it.AccommodationID, &it.AccommodationName, &it.Kind, &it.Persons); err != nil {
			return nil, err
		}
		if cur == nil || cur.ID != b.ID {
			b.Arrival, _ = ParseDate(arr)
			b.Departure, _ = ParseDate(dep)
			b.CreatedAt, b.UpdatedAt = parseTimestamp(created), parseTimestamp(updated)
			cur = &b
			out = append(out, cur)
		}
		cur.Items = append(cur.Items, it)
	}
	return out, rows.Err()
}

func (s *Store) bookingByID(ctx context.Context, q querier, id int64) (*Booking, error) {
	bs, err := listBookings(ctx, q, `b.id = ?`, `b.arrival`, id)
	if err != nil {
		return nil, fmt.Errorf("booking %d: %w", id, err)
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("booking %d: %w", id, ErrNotFound)
	}
	return bs[0], nil
}

// Booking returns one booking for viewer. The family shares one house and
// sees every stay in the calendar, so any approved member may look at one
// that holds beds; what is private (notes, history, actions) is for the caller to hide from
// anyone but the owner and administrators (see MayChange).
func (s *Store) Booking(ctx context.Context, viewer *User, id int64) (*Booking, error) {
	if !viewer.CanBook() {
		return nil, fmt.Errorf("booking %d: %w", id, ErrForbidden)
	}
	b, err := s.bookingByID(ctx, s.reader, id)
	if err != nil {
		return nil, err
	}
	// Other members see a stay while it holds beds, as in the calendar. A
	// rejected or cancelled one is its owner's business: not found, as if
	// the (sequential) id did not exist.
	if !b.HoldsBeds() && !b.MayChange(viewer) {
		return nil, fmt.Errorf("booking %d: %w", id, ErrNotFound)
	}
	return b, nil
}

// MayChange tells whether u may see the private parts of b and change it:
// its owner and administrators.
func (b *Booking) MayChange(u *User) bool {
	return u.IsAdmin() || (u.CanBook() && u.ID == b.UserID)
}

// Event is one entry of a booking's history.
type Event struct {
	ID        int64
	Kind      string // created, edited, accepted, rejected, cancelled
	ActorID   int64
	ActorName string
	At        time.Time
	Reason    string
	Before    *Snapshot // edits only
	After     *Snapshot // created and edited
}

// Snapshot is a booking's dates, items and notes at one moment.
type Snapshot struct {
	Arrival   Date
	Departure Date
	Items     []Item
	Notes     string
}

func parseSnapshot(s string) *Snapshot {
	if s == "" {
		return nil
	}
	var sn snapshot
	if json.Unmarshal([]byte(s), &sn) != nil {
		return nil
	}
	out := &Snapshot{Notes: sn.Notes}
	out.Arrival, _ = ParseDate(sn.Arrival)
	out.Departure, _ = ParseDate(sn.Departure)
	for _, it := range sn.Items {
		out.Items = append(out.Items, Item{AccommodationID: it.AccommodationID, AccommodationName: it.Name, Persons: it.Persons})
	}
	return out
}

// Events returns a booking's history, oldest first. The caller has already
// checked that the viewer may see the booking.
func (s *Store) Events(ctx context.Context, bookingID int64) ([]Event, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT e.id, e.kind, coalesce(e.actor_id, 0), coalesce(u.name, ''), e.at, e.reason, e.before, e.after
		FROM booking_events e LEFT JOIN users u ON u.id = e.actor_id
		WHERE e.booking_id = ? ORDER BY e.id`, bookingID)
	if err != nil {
		return nil, fmt.Errorf("events of booking %d: %w", bookingID, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at, before, after string
		if err := rows.Scan(&e.ID, &e.Kind, &e.ActorID, &e.ActorName, &at, &e.Reason, &before, &after); err != nil {
			return nil, fmt.Errorf("events of booking %d: %w", bookingID, err)
		}
		e.At, e.Before, e.After = parseTimestamp(at), parseSnapshot(before), parseSnapshot(after)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Which bookings a list shows, by time.
const (
	WhenUpcoming = "upcoming" // not yet over: departure after today
	WhenPast     = "past"
	WhenAll      = "all"
)

// BookingFilter selects bookings for a list.
type BookingFilter struct {
	UserID int64  // 0: everyone's
	When   string // WhenUpcoming (default), WhenPast, WhenAll
	Status string // "": any
}

// Bookings lists bookings. Upcoming ones come soonest first, past ones most
// recent first.
func (s *Store) Bookings(ctx context.Context, f BookingFilter) ([]*Booking, error) {
	where := []string{"1"}
	var args []any
	if f.UserID != 0 {
		where = append(where, "b.user_id = ?")
		args = append(args, f.UserID)
	}
	if f.Status != "" {
		if !slices.Contains(Statuses, f.Status) {
			return nil, fmt.Errorf("bookings: status %q: %w", f.Status, ErrInvalid)
		}
		where = append(where, "b.status = ?")
		args = append(args, f.Status)
	}
	order := "b.arrival"
	today := s.Today().String()
	switch f.When {
	case WhenUpcoming, "":
		where = append(where, "b.departure > ?")
		args = append(args, today)
	case WhenPast:
		where = append(where, "b.departure <= ?")
		args = append(args, today)
		order = "b.arrival DESC"
	case WhenAll:
		order = "b.arrival DESC"
	default:
		return nil, fmt.Errorf("bookings: when %q: %w", f.When, ErrInvalid)
	}
	bs, err := listBookings(ctx, s.reader, strings.Join(where, " AND "), order, args...)
	if err != nil {
		return nil, fmt.Errorf("bookings: %w", err)
	}
	return bs, nil
}

// BookingsOverlapping returns the bed-holding bookings with at least one
// night in [from, to): what the calendar shows.
func (s *Store) BookingsOverlapping(ctx context.Context, from, to Date) ([]*Booking, error) {
	bs, err := listBookings(ctx, s.reader, `b.status IN ('pending', 'accepted') AND b.departure > ? AND b.arrival < ?`,
		`b.arrival`, from.String(), to.String())
	if err != nil {
		return nil, fmt.Errorf("bookings from %s to %s: %w", from, to, err)
	}
	return bs, nil
}

// CountBookingsByStatus counts bookings per status, for the dashboard and
// the metrics.
func (s *Store) CountBookingsByStatus(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, `SELECT status, count(*) FROM bookings GROUP BY status`, Statuses)
}

// CountUsersByState counts accounts per state.
func (s *Store) CountUsersByState(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, `SELECT state, count(*) FROM users GROUP BY state`, UserStates)
}

func (s *Store) countBy(ctx context.Context, query string, keys []string) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		out[k] = 0
	}
	rows, err := s.reader.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("count: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, fmt.Errorf("count: %w", err)
		}
		out[k] = n
	}
	return out, rows.Err()
}

// Stay is a bed-holding booking as the month view shows it: no more than
// that, read in one row per booking, because the month is read again after
// every change and must stay cheap.
type Stay struct {
	ID                 int64
	UserName           string
	Arrival, Departure Date
	Pending            bool // else accepted
	Persons            int
	Accommodations     string // "Zimmer 1, Zelt", in the house's order
	Items              []Item
}

// Status is pending or accepted: a stay holds beds.
func (st *Stay) Status() string {
	if st.Pending {
		return StatusPending
	}
	return StatusAccepted
}

// staysSQL reads the stays of a range through the partial index of
// bed-holding bookings by departure: what it scans is the bookings still to
// leave after the range starts, a number the booking horizon bounds. (Left to
// itself, SQLite took the index by status and arrival, which reads every
// stay that ever arrived before the range ends: the whole history, more each
// year.) The rows are sorted here, not by SQLite: its sorter costs more than
// the rest of the query.
const staysSQL = `SELECT b.id, u.name, b.arrival, b.departure, b.status = 'pending', i.accommodation_id, a.name, a.kind, i.persons, a.sort_order
		FROM bookings b INDEXED BY bookings_holding
		JOIN users u ON u.id = b.user_id
		JOIN booking_items i ON i.booking_id = b.id
		JOIN accommodations a ON a.id = i.accommodation_id
		WHERE b.status IN ('pending', 'accepted') AND b.departure > ? AND b.arrival < ?`

// stayByIDSQL is one stay of staysSQL, if it holds beds.
const stayByIDSQL = `SELECT b.id, u.name, b.arrival, b.departure, b.status = 'pending', i.accommodation_id, a.name, a.kind, i.persons, a.sort_order
		FROM bookings b
		JOIN users u ON u.id = b.user_id
		JOIN booking_items i ON i.booking_id = b.id
		JOIN accommodations a ON a.id = i.accommodation_id
		WHERE b.id = ? AND b.status IN ('pending', 'accepted')`

// StaysOverlapping lists the stays with a night in [from, to), by arrival
// (then by id), each one's items in the house's order of accommodations.
func (s *Store) StaysOverlapping(ctx context.Context, from, to Date) ([]Stay, error) {
	rows, err := s.stays.QueryContext(ctx, from.String(), to.String())
	if err != nil {
		return nil, fmt.Errorf("stays from %s to %s: %w", from, to, err)
	}
	out, err := readStays(rows, nil)
	if err != nil {
		return nil, fmt.Errorf("stays from %s to %s: %w", from, to, err)
	}
	return out, nil
}

// Stays reads the bookings of ids that hold beds, as StaysOverlapping
// would list them; the others (rejected, cancelled, gone) are left out. It
// brings a list of stays up to date after BookingsChanged named them.
func (s *Store) Stays(ctx context.Context, ids []int64) ([]Stay, error) {
	// Each once: a booking's rows read twice would make one stay of both.
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var rs []stayRow
	for _, id := range ids {
		rows, err := s.stayByID.QueryContext(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("stay %d: %w", id, err)
		}
		if rs, err = scanStayRows(rows, rs); err != nil {
			return nil, fmt.Errorf("stay %d: %w", id, err)
		}
	}
	return groupStays(rs), nil
}

// stayRow is one item of a stay, as staysSQL reads it.
type stayRow struct {
	st    Stay
	it    Item
	order int64 // the accommodation's sort_order
}

func readStays(rows *sql.Rows, rs []stayRow) ([]Stay, error) {
	rs, err := scanStayRows(rows, rs)
	if err != nil {
		return nil, err
	}
	return groupStays(rs), nil
}

// scanStayRows appends the rows to rs and closes them.
func scanStayRows(rows *sql.Rows, rs []stayRow) ([]stayRow, error) {
	defer rows.Close()
	var arr, dep string
	for rows.Next() {
		var r stayRow
		if err := rows.Scan(&r.st.ID, &r.st.UserName, &arr, &dep, &r.st.Pending, &r.it.AccommodationID, &r.it.AccommodationName,
			&r.it.Kind, &r.it.Persons, &r.order); err != nil {
			return nil, err
		}
		r.st.Arrival, _ = ParseDate(arr)
		r.st.Departure, _ = ParseDate(dep)
		rs = append(rs, r)
	}
	return rs, rows.Err()
}

// groupStays sorts the rows as the month shows them and makes one stay of
// each booking's rows.
func groupStays(rs []stayRow) []Stay {
	// ORDER BY b.arrival, b.id, a.sort_order, a.name COLLATE NOCASE
	slices.SortFunc(rs, func(x, y stayRow) int {
		if c := CompareStays(&x.st, &y.st); c != 0 {
			return c
		}
		if c := cmp.Compare(x.order, y.order); c != 0 {
			return c
		}
		return compareNoCase(x.it.AccommodationName, y.it.AccommodationName)
	})
	var out []Stay
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].ID == r.st.ID {
			out[n-1].Accommodations += ", " + r.it.AccommodationName
			out[n-1].Persons += r.it.Persons
			out[n-1].Items = append(out[n-1].Items, r.it)
			continue
		}
		st := r.st
		st.Accommodations, st.Persons, st.Items = r.it.AccommodationName, r.it.Persons, []Item{r.it}
		out = append(out, st)
	}
	return out
}

// CompareStays is the order of StaysOverlapping: by arrival, then by id.
func CompareStays(a, b *Stay) int {
	if c := cmp.Compare(a.Arrival, b.Arrival); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// compareNoCase orders as SQLite's NOCASE collation: bytes, with ASCII
// letters folded to lower case.
func compareNoCase(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return cmp.Compare(ca, cb)
		}
	}
	return cmp.Compare(len(a), len(b))
}

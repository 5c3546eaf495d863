package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Kinds of mail. Each is written to the outbox by the change that causes
// it, in the same transaction.
const (
	MailBookingCreated      = "booking_created"      // a new request, to administrators
	MailBookingChanged      = "booking_changed"      // a member changed the stay of a request, to administrators
	MailBookingAccepted     = "booking_accepted"     // to the owner
	MailBookingRejected     = "booking_rejected"     // to the owner, with the reason
	MailBookingCancelled    = "booking_cancelled"    // to the owner (cancelled by someone else) or to administrators (by the owner)
	MailMemberWaiting       = "member_waiting"       // a self-registration waits for approval, to administrators
	MailMemberJoined        = "member_joined"        // an invited member chose a password, to administrators
	MailAccountApproved     = "account_approved"     // to the member who registered
	MailInvitation          = "invitation"           // the invitation link, to the invited address
	MailPasswordReset       = "password_reset"       // a reset link the member asked for
	MailRegistrationAttempt = "registration_attempt" // someone registered with the address of an account, to its owner
	MailTest                = "test"                 // the administrator's test mail
)

// MailKinds are all kinds, in the order the outbox explains them.
var MailKinds = []string{MailBookingCreated, MailBookingChanged, MailBookingAccepted, MailBookingRejected, MailBookingCancelled,
	MailMemberWaiting, MailMemberJoined, MailAccountApproved, MailInvitation, MailPasswordReset, MailRegistrationAttempt, MailTest}

// memberMailKinds a member can turn off; administrators also the ones about
// everybody's requests and accounts. Links and test mails cannot be turned
// off: they are asked for.
var (
	memberMailKinds = []string{MailBookingAccepted, MailBookingRejected, MailBookingCancelled}
	adminMailKinds  = []string{MailBookingCreated, MailBookingChanged, MailBookingAccepted, MailBookingRejected,
		MailBookingCancelled, MailMemberWaiting, MailMemberJoined}
)

// OptionalMailKinds are the kinds of mail u gets and may turn off.
func OptionalMailKinds(u *User) []string {
	if u.IsAdmin() {
		return adminMailKinds
	}
	return memberMailKinds
}

// MailCanBeTurnedOff tells the kinds a profile lists (those administrators
// get include every kind members get).
func MailCanBeTurnedOff(kind string) bool { return slices.Contains(adminMailKinds, kind) }

// Outcomes of a mail in the outbox.
const (
	MailQueued  = "queued"  // waiting for its (next) attempt
	MailSent    = "sent"    // the server accepted it
	MailFailed  = "failed"  // refused for good, or every retry used up
	MailSkipped = "skipped" // not sent: the account was disabled meanwhile
)

// SelfResetTTL is how long a reset link a member asked for by mail lives
// (an administrator's link, passed on by hand, lives ResetTTL).
const SelfResetTTL = time.Hour

// resetMailEvery is the least time between two reset mails to one account,
// so nobody can fill a member's mailbox through the "forgot" form.
const resetMailEvery = 5 * time.Minute

// registrationMailEvery is the least time between two mails to one account
// about registrations with its address, so nobody can fill a member's
// mailbox through the registration form.
const registrationMailEvery = time.Hour

// MailItem is one accommodation of a booking as a mail shows it.
type MailItem struct {
	Name    string `json:"name"`
	Persons int    `json:"persons"`
}

// MailBooking is a booking as it was when the mail was queued.
type MailBooking struct {
	ID        int64      `json:"id"`
	OwnerID   int64      `json:"owner_id"`
	Owner     string     `json:"owner"`
	Arrival   string     `json:"arrival"`
	Departure string     `json:"departure"`
	Items     []MailItem `json:"items"`
	Status    string     `json:"status"`
	Reason    string     `json:"reason,omitempty"`
	Notes     string     `json:"notes,omitempty"`
}

// Dates are the stay's arrival and departure.
func (b *MailBooking) Dates() (arrival, departure Date) {
	arrival, _ = ParseDate(b.Arrival)
	departure, _ = ParseDate(b.Departure)
	return arrival, departure
}

// Nights of the stay.
func (b *MailBooking) Nights() int {
	a, d := b.Dates()
	return int(d - a)
}

// MailMember is the account a mail about a member is about.
type MailMember struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// MailData is what a mail says, kept with it in the outbox as it was at the
// change, so a retry two hours later still says what happened then.
type MailData struct {
	Booking *MailBooking `json:"booking,omitempty"`
	Before  *MailBooking `json:"before,omitempty"` // the stay before a change
	Actor   string       `json:"actor,omitempty"`  // who made the change
	Member  *MailMember  `json:"member,omitempty"`
	// Token is the secret of an invitation or reset link. It is removed
	// once the mail is sent, so the database keeps no usable link.
	Token   string    `json:"token,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	// Lang is the language of a mail to an address without an account (the
	// test mail).
	Lang string `json:"lang,omitempty"`
}

// Mail is one row of the outbox.
type Mail struct {
	ID          int64
	Kind        string
	RecipientID int64  // 0: an address without an account
	To          string // the recipient's address now (it may have changed since)
	ToName      string
	Language    string // the recipient's setting now ("" for none)
	State       string // the recipient's account state now ("" without an account)
	BookingID   int64
	Data        MailData
	Status      string
	Attempts    int
	NextAt      time.Time
	LastError   string
	MessageID   string // the local part of the Message-ID, the same for every attempt
	CreatedAt   time.Time
	SentAt      time.Time
}

// Lang is the language the mail is written in: the recipient's setting,
// else the one the mail was queued with, else German (the family's).
func (m *Mail) Lang() string {
	switch {
	case m.Language != "":
		return m.Language
	case m.Data.Lang != "":
		return m.Data.Lang
	}
	return "de"
}

// HasLink tells a mail whose point is a one-time link.
func (m *Mail) HasLink() bool { return m.Kind == MailInvitation || m.Kind == MailPasswordReset }

// CanSendAgain tells whether "send again" makes sense: not while it waits,
// and a link only while it still works (a sent one no longer has its token).
func (m *Mail) CanSendAgain(now time.Time) bool {
	if m.Status == MailQueued {
		return false
	}
	if m.HasLink() {
		return m.Data.Token != "" && now.Before(m.Data.Expires)
	}
	return true
}

// mailTime is how the outbox stores instants: fixed width, so that the
// text comparisons in SQL order them correctly.
const mailTime = "2006-01-02T15:04:05.000000Z"

func mailTimestamp(t time.Time) string { return t.UTC().Format(mailTime) }

// EnableMail tells the store that mail can be delivered. Until it is
// called nothing is queued: without an SMTP server there is no outbox to
// fill.
func (s *Store) EnableMail() { s.mailOn.Store(true) }

// MailEnabled tells whether changes queue mail.
func (s *Store) MailEnabled() bool { return s.mailOn.Load() }

// MailWaiting is signalled after a commit that queued mail, so the sender
// can start at once instead of at its next look.
func (s *Store) MailWaiting() <-chan struct{} { return s.mailSignal }

// afterCommit wakes the sender when transaction tx queued mail and
// committed. (Per transaction: the next one may already be running on the
// writer when this one's commit returns.)
func (s *Store) afterCommit(tx *sql.Tx, committed bool) {
	if _, queued := s.mailTx.LoadAndDelete(tx); queued && committed {
		select {
		case s.mailSignal <- struct{}{}:
		default:
		}
	}
}

// queuedMail tells whether transaction tx has queued mail so far.
func (s *Store) queuedMail(tx *sql.Tx) bool {
	_, queued := s.mailTx.Load(tx)
	return queued
}

// The statements that queue mail, prepared with the booking statements
// because they run in the same hot transactions.
const (
	sqlQueueMail = `INSERT INTO outbox (kind, recipient_id, to_email, to_name, booking_id, data, status, next_at, message_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`
	sqlAdminsFor = `SELECT id, email, name FROM users u
		WHERE role = 'admin' AND state = 'approved' AND id <> ?
		AND NOT EXISTS (SELECT 1 FROM mail_optouts o WHERE o.user_id = u.id AND o.kind = ?)
		ORDER BY id`
	sqlMemberFor = `SELECT id, email, name FROM users u
		WHERE id = ? AND id <> ? AND state = 'approved'
		AND NOT EXISTS (SELECT 1 FROM mail_optouts o WHERE o.user_id = u.id AND o.kind = ?)`
)

var outboxStatements = []string{sqlQueueMail, sqlAdminsFor, sqlMemberFor}

type recipient struct {
	id          int64
	email, name string
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// queueMail writes one mail into the outbox inside tx, when mail is on.
func (s *Store) queueMail(ctx context.Context, tx *sql.Tx, kind string, to recipient, bookingID int64, data *MailData) error {
	if !s.mailOn.Load() {
		return nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	now := mailTimestamp(s.now())
	if _, err := s.execTx(ctx, tx, sqlQueueMail, kind, nullID(to.id), to.email, to.name, nullID(bookingID), string(b),
		now, strings.ToLower(rand.Text()), now); err != nil {
		return fmt.Errorf("queue %s mail: %w", kind, err)
	}
	s.mailTx.Store(tx, struct{}{})
	return nil
}

// queueForAdmins sends kind to every administrator who wants it, except
// the one who made the change: they know.
func (s *Store) queueForAdmins(ctx context.Context, tx *sql.Tx, kind string, except int64, bookingID int64, data *MailData) error {
	if !s.mailOn.Load() {
		return nil
	}
	rows, err := s.queryTx(ctx, tx, sqlAdminsFor, except, kind)
	if err != nil {
		return err
	}
	var rs []recipient
	for rows.Next() {
		var r recipient
		if err := rows.Scan(&r.id, &r.email, &r.name); err != nil {
			rows.Close()
			return err
		}
		rs = append(rs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range rs {
		if err := s.queueMail(ctx, tx, kind, r, bookingID, data); err != nil {
			return err
		}
	}
	return nil
}

// queueForMember sends kind to one approved member who wants it, unless
// they made the change themselves.
func (s *Store) queueForMember(ctx context.Context, tx *sql.Tx, kind string, userID, except, bookingID int64, data *MailData) error {
	if !s.mailOn.Load() {
		return nil
	}
	var r recipient
	err := s.queryRowTx(ctx, tx, sqlMemberFor, userID, except, kind).Scan(&r.id, &r.email, &r.name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // disabled, opted out, or the actor
	}
	if err != nil {
		return err
	}
	return s.queueMail(ctx, tx, kind, r, bookingID, data)
}

// mailBooking is b as a mail shows it.
func mailBooking(b *Booking) *MailBooking {
	mb := &MailBooking{ID: b.ID, OwnerID: b.UserID, Owner: b.UserName, Arrival: b.Arrival.String(), Departure: b.Departure.String(),
		Status: b.Status, Reason: b.Reason, Notes: b.Notes}
	for _, it := range b.Items {
		mb.Items = append(mb.Items, MailItem{Name: it.AccommodationName, Persons: it.Persons})
	}
	return mb
}

// queueBookingMail writes the mails of a change of booking b by actor:
// requests and changes go to administrators, decisions to the owner, a
// cancellation to the owner or, when the owner cancelled, to administrators.
func (s *Store) queueBookingMail(ctx context.Context, tx *sql.Tx, kind string, actor *User, b *Booking, before *Booking) error {
	if !s.mailOn.Load() {
		return nil
	}
	data := &MailData{Booking: mailBooking(b), Actor: actor.Name}
	if before != nil {
		data.Before = mailBooking(before)
	}
	switch kind {
	case MailBookingCreated, MailBookingChanged:
		return s.queueForAdmins(ctx, tx, kind, actor.ID, b.ID, data)
	case MailBookingCancelled:
		if actor.ID == b.UserID {
			return s.queueForAdmins(ctx, tx, kind, actor.ID, b.ID, data)
		}
		return s.queueForMember(ctx, tx, kind, b.UserID, actor.ID, b.ID, data)
	default:
		return s.queueForMember(ctx, tx, kind, b.UserID, actor.ID, b.ID, data)
	}
}

// writeMail runs fn in a write transaction that changes only mail
// bookkeeping: the data the pages are cached from stays the same, so the
// generation does not move and no cached page is thrown away.
func (s *Store) writeMail(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.transact(ctx, false, nil, fn)
}

const mailColumns = `o.id, o.kind, coalesce(o.recipient_id, 0), coalesce(u.email, o.to_email), coalesce(u.name, o.to_name),
	coalesce(u.language, ''), coalesce(u.state, ''), coalesce(o.booking_id, 0), o.data, o.status, o.attempts, o.next_at,
	o.last_error, o.message_id, o.created_at, o.sent_at
	FROM outbox o LEFT JOIN users u ON u.id = o.recipient_id`

func scanMail(row interface{ Scan(...any) error }) (*Mail, error) {
	var m Mail
	var data, next, created, sent string
	if err := row.Scan(&m.ID, &m.Kind, &m.RecipientID, &m.To, &m.ToName, &m.Language, &m.State, &m.BookingID, &data,
		&m.Status, &m.Attempts, &next, &m.LastError, &m.MessageID, &created, &sent); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(data), &m.Data); err != nil {
		return nil, fmt.Errorf("mail %d: %w", m.ID, err)
	}
	m.NextAt, m.CreatedAt = parseTimestamp(next), parseTimestamp(created)
	if sent != "" {
		m.SentAt = parseTimestamp(sent)
	}
	return &m, nil
}

func (s *Store) mails(ctx context.Context, q querier, where string, args ...any) ([]*Mail, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+mailColumns+` WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Mail
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DueMail returns up to limit queued mails whose time has come, oldest
// first.
func (s *Store) DueMail(ctx context.Context, limit int) ([]*Mail, error) {
	ms, err := s.mails(ctx, s.reader, `o.status = 'queued' AND o.next_at <= ? ORDER BY o.next_at, o.id LIMIT ?`,
		mailTimestamp(s.now()), limit)
	if err != nil {
		return nil, fmt.Errorf("due mail: %w", err)
	}
	return ms, nil
}

// NextMailDue is when the next queued mail is due (ok false: none queued).
func (s *Store) NextMailDue(ctx context.Context) (next time.Time, ok bool, err error) {
	var at sql.NullString
	if err := s.reader.QueryRowContext(ctx, `SELECT min(next_at) FROM outbox WHERE status = 'queued'`).Scan(&at); err != nil {
		return time.Time{}, false, fmt.Errorf("next mail due: %w", err)
	}
	if !at.Valid {
		return time.Time{}, false, nil
	}
	return parseTimestamp(at.String), true, nil
}

// Outbox lists the newest limit mails, newest first, for the settings page.
func (s *Store) Outbox(ctx context.Context, limit int) ([]*Mail, error) {
	ms, err := s.mails(ctx, s.reader, `1 ORDER BY o.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return ms, nil
}

// Mail returns one mail of the outbox.
func (s *Store) Mail(ctx context.Context, id int64) (*Mail, error) {
	ms, err := s.mails(ctx, s.reader, `o.id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("mail %d: %w", id, err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("mail %d: %w", id, ErrNotFound)
	}
	return ms[0], nil
}

// CountMailQueued counts the mails waiting for delivery (the queue gauge).
func (s *Store) CountMailQueued(ctx context.Context) (int, error) {
	var n int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE status = 'queued'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count queued mail: %w", err)
	}
	return n, nil
}

// MailDelivered records that the server accepted mail id. Its link token,
// if any, is dropped: the database keeps no usable link.
func (s *Store) MailDelivered(ctx context.Context, id int64) error {
	return s.settleMail(ctx, id, `status = 'sent', attempts = attempts + 1, sent_at = ?, last_error = '', data = json_remove(data, '$.token')`,
		mailTimestamp(s.now()))
}

// MailAttemptFailed records a failed attempt with the server's answer. A
// zero retryAt gives up: the mail is failed and stays so until an
// administrator sends it again.
func (s *Store) MailAttemptFailed(ctx context.Context, id int64, answer string, retryAt time.Time) error {
	if len(answer) > 1000 {
		answer = answer[:1000]
	}
	if retryAt.IsZero() {
		return s.settleMail(ctx, id, `status = 'failed', attempts = attempts + 1, last_error = ?`, answer)
	}
	return s.settleMail(ctx, id, `attempts = attempts + 1, last_error = ?, next_at = ?`, answer, mailTimestamp(retryAt))
}

// MailSkipped records that mail id is not sent, and why.
func (s *Store) MailSkipped(ctx context.Context, id int64, why string) error {
	return s.settleMail(ctx, id, `status = 'skipped', last_error = ?, data = json_remove(data, '$.token')`, why)
}

func (s *Store) settleMail(ctx context.Context, id int64, set string, args ...any) error {
	err := s.writeMail(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET `+set+` WHERE id = ? AND status = 'queued'`, append(args, id)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, ErrConflict)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mail %d: %w", id, err)
	}
	return nil
}

// SendMailAgain queues mail id once more (administrators only): a failed
// or skipped one as it is, a sent one as a copy, since it is a second mail.
// A link that no longer works is not sent again.
func (s *Store) SendMailAgain(ctx context.Context, actor *User, id int64) error {
	if !actor.IsAdmin() {
		return fmt.Errorf("send mail %d again: %w", id, ErrForbidden)
	}
	if !s.mailOn.Load() {
		return fmt.Errorf("send mail %d again: mail is off: %w", id, ErrConflict)
	}
	err := s.writeMail(ctx, func(tx *sql.Tx) error {
		ms, err := s.mails(ctx, tx, `o.id = ?`, id)
		if err != nil {
			return err
		}
		if len(ms) == 0 {
			return ErrNotFound
		}
		m := ms[0]
		if !m.CanSendAgain(s.now()) {
			return ErrConflict
		}
		now := mailTimestamp(s.now())
		if m.Status != MailSent {
			_, err := tx.ExecContext(ctx, `UPDATE outbox SET status = 'queued', attempts = 0, next_at = ?, last_error = '' WHERE id = ?`, now, id)
			s.mailTx.Store(tx, struct{}{})
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO outbox (kind, recipient_id, to_email, to_name, booking_id, data, status, next_at, message_id, created_at)
			SELECT kind, recipient_id, to_email, to_name, booking_id, data, 'queued', ?, ?, ? FROM outbox WHERE id = ?`,
			now, strings.ToLower(rand.Text()), now, id)
		s.mailTx.Store(tx, struct{}{})
		return err
	})
	if err != nil {
		return fmt.Errorf("send mail %d again: %w", id, err)
	}
	return nil
}

// QueueTestMail queues the settings page's test mail to any address, in
// the language of the administrator who asked.
func (s *Store) QueueTestMail(ctx context.Context, actor *User, to string) error {
	if !actor.IsAdmin() {
		return fmt.Errorf("test mail: %w", ErrForbidden)
	}
	to = strings.TrimSpace(to)
	if to == "" || !validEmail(to) {
		return &ValidationError{Problems: []Problem{{Field: "to", Key: KeyBadEmail}}}
	}
	if !s.mailOn.Load() {
		return fmt.Errorf("test mail: mail is off: %w", ErrConflict)
	}
	err := s.writeMail(ctx, func(tx *sql.Tx) error {
		return s.queueMail(ctx, tx, MailTest, recipient{email: to}, 0, &MailData{Actor: actor.Name, Lang: actor.Language})
	})
	if err != nil {
		return fmt.Errorf("test mail: %w", err)
	}
	return nil
}

// DeleteOldMail removes delivered, failed and skipped mails queued before
// t: the outbox is a queue and a recent history, not an archive.
func (s *Store) DeleteOldMail(ctx context.Context, before time.Time) error {
	err := s.writeMail(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE status <> 'queued' AND created_at < ?`, mailTimestamp(before))
		return err
	})
	if err != nil {
		return fmt.Errorf("delete old mail: %w", err)
	}
	return nil
}

// MailOptOuts returns the kinds of mail a user has turned off.
func (s *Store) MailOptOuts(ctx context.Context, userID int64) (map[string]bool, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT kind FROM mail_optouts WHERE user_id = ?`, userID)
	if err != nil {
		return nil, fmt.Errorf("mail opt-outs: %w", err)
	}
	defer rows.Close()
	off := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("mail opt-outs: %w", err)
		}
		off[k] = true
	}
	return off, rows.Err()
}

// SetMailOptOuts replaces the kinds of mail u has turned off. Kinds u does
// not get at all are refused.
func (s *Store) SetMailOptOuts(ctx context.Context, u *User, off []string) error {
	allowed := OptionalMailKinds(u)
	for _, k := range off {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("mail opt-outs: kind %q: %w", k, ErrInvalid)
		}
	}
	err := s.writeMail(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM mail_optouts WHERE user_id = ?`, u.ID); err != nil {
			return err
		}
		for _, k := range off {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO mail_optouts (user_id, kind) VALUES (?, ?)`, u.ID, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mail opt-outs: %w", err)
	}
	return nil
}

// RequestPasswordReset mails a one-time reset link (valid SelfResetTTL) to
// the account with that email, if there is one that may log in. Whether
// there is or not, it returns nil: the caller's answer must not tell. At
// most one such mail goes to an account every few minutes.
func (s *Store) RequestPasswordReset(ctx context.Context, email string) error {
	if !s.mailOn.Load() {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		var r recipient
		var state string
		err := tx.QueryRowContext(ctx, `SELECT id, email, name, state FROM users WHERE email = ?`, strings.TrimSpace(email)).
			Scan(&r.id, &r.email, &r.name, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		switch state {
		case StateApproved, StateRegistered, StateVerified:
		default:
			return nil // cannot log in anyway
		}
		if recent, err := s.mailedRecently(ctx, tx, r.id, MailPasswordReset, resetMailEvery); err != nil || recent {
			return err
		}
		// One live reset link per account: the new one revokes the old.
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND purpose = 'reset'`, r.id); err != nil {
			return err
		}
		token, err := s.newToken(ctx, tx, PurposeReset, r.id, SelfResetTTL)
		if err != nil {
			return err
		}
		return s.queueMail(ctx, tx, MailPasswordReset, r, 0, &MailData{Token: token, Expires: s.now().Add(SelfResetTTL).UTC()})
	})
	if err != nil {
		return fmt.Errorf("request password reset: %w", err)
	}
	return nil
}

// mailedRecently tells whether account userID was sent mail of this kind
// (queued, whatever became of it) within the last every: the limit on
// mails a stranger can cause by typing someone's address into a form.
func (s *Store) mailedRecently(ctx context.Context, tx *sql.Tx, userID int64, kind string, every time.Duration) (bool, error) {
	var recent int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM outbox WHERE recipient_id = ? AND kind = ? AND created_at > ?`,
		userID, kind, mailTimestamp(s.now().Add(-every))).Scan(&recent); err != nil {
		return false, err
	}
	return recent > 0, nil
}

// queueRegistrationAttempt tells the owner of account userID that someone
// registered with its address and nothing changed, in the transaction
// that refused the registration: at most once every registrationMailEvery,
// and only to an account that may log in (a disabled or rejected one gets
// no mail; an invited one has no password to forget, its invitation is
// the way in).
func (s *Store) queueRegistrationAttempt(ctx context.Context, tx *sql.Tx, userID int64) error {
	if !s.mailOn.Load() {
		return nil
	}
	var r recipient
	var state string
	if err := tx.QueryRowContext(ctx, `SELECT id, email, name, state FROM users WHERE id = ?`, userID).
		Scan(&r.id, &r.email, &r.name, &state); err != nil {
		return err
	}
	switch state {
	case StateApproved, StateRegistered, StateVerified:
	default:
		return nil
	}
	if recent, err := s.mailedRecently(ctx, tx, r.id, MailRegistrationAttempt, registrationMailEvery); err != nil || recent {
		return err
	}
	return s.queueMail(ctx, tx, MailRegistrationAttempt, r, 0, &MailData{})
}

// InviteByMail is Invite, and mails the link to the invited address in the
// same transaction.
func (s *Store) InviteByMail(ctx context.Context, actor *User, in NewUser) (string, *User, error) {
	return s.invite(ctx, actor, in, true)
}

// RenewInvitationByMail is RenewInvitation, and mails the new link.
func (s *Store) RenewInvitationByMail(ctx context.Context, actor *User, userID int64) (string, error) {
	return s.linkFor(ctx, actor, userID, PurposeInvite, InviteTTL, true)
}

// queueInvitation mails an invitation link to the invited account.
func (s *Store) queueInvitation(ctx context.Context, tx *sql.Tx, actor *User, userID int64, token string, ttl time.Duration) error {
	var r recipient
	if err := tx.QueryRowContext(ctx, `SELECT id, email, name FROM users WHERE id = ?`, userID).Scan(&r.id, &r.email, &r.name); err != nil {
		return err
	}
	return s.queueMail(ctx, tx, MailInvitation, r, 0, &MailData{Actor: actor.Name, Token: token, Expires: s.now().Add(ttl).UTC(),
		Member: &MailMember{Name: r.name, Email: r.email}})
}

// queueMemberMail tells administrators about the account userID.
func (s *Store) queueMemberMail(ctx context.Context, tx *sql.Tx, kind string, userID int64) error {
	if !s.mailOn.Load() {
		return nil
	}
	var m MailMember
	if err := tx.QueryRowContext(ctx, `SELECT name, email FROM users WHERE id = ?`, userID).Scan(&m.Name, &m.Email); err != nil {
		return err
	}
	return s.queueForAdmins(ctx, tx, kind, userID, 0, &MailData{Member: &m})
}

// approveUser approves an account (with what goes with every state
// change); one that registered itself hears so by mail, in the same
// transaction. The state before is read in it too.
func (s *Store) approveUser(ctx context.Context, actor *User, userID int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, `SELECT state FROM users WHERE id = ?`, userID).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET state = 'approved', updated_at = ? WHERE id = ?`, timestamp(s.now()), userID); err != nil {
			return err
		}
		if err := stateChanged(ctx, tx, userID, StateApproved); err != nil {
			return err
		}
		if old != StateRegistered && old != StateVerified {
			return nil
		}
		return s.queueForMember(ctx, tx, MailAccountApproved, userID, actor.ID, 0, &MailData{Actor: actor.Name})
	})
	if err != nil {
		return fmt.Errorf("update user %d: %w", userID, err)
	}
	return nil
}

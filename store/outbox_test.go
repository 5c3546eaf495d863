package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// queued returns "kind→email" for every mail in the outbox, oldest first.
func queued(t *testing.T, s *Store) []string {
	t.Helper()
	ms, err := s.Outbox(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(ms) - 1; i >= 0; i-- {
		out = append(out, ms[i].Kind+"→"+ms[i].To)
	}
	return out
}

func wantQueued(t *testing.T, s *Store, want ...string) {
	t.Helper()
	if got := queued(t, s); !slices.Equal(got, want) {
		t.Fatalf("outbox:\n got %q\nwant %q", got, want)
	}
}

// clearOutbox marks everything queued as delivered, so the next check sees
// only what comes after.
func clearOutbox(t *testing.T, s *Store) {
	t.Helper()
	ms, _ := s.Outbox(context.Background(), 1000)
	for _, m := range ms {
		if m.Status == MailQueued {
			if err := s.MailDelivered(context.Background(), m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := s.writer.Exec(`DELETE FROM outbox`); err != nil {
		t.Fatal(err)
	}
}

func TestNoMailWhileMailIsOff(t *testing.T) {
	f := newFixture(t)
	b := f.book(t, f.member, 1, 2, Item{AccommodationID: f.room.ID, Persons: 1})
	if err := f.s.AcceptBooking(context.Background(), f.admin, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RequestPasswordReset(context.Background(), f.member.Email); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s)
	if err := f.s.QueueTestMail(context.Background(), f.admin, "x@example.org"); !errors.Is(err, ErrConflict) {
		t.Errorf("test mail without mail: %v", err)
	}
}

// TestWhoGetsWhichMail goes through every change that mails and checks the
// recipients: administrators hear of requests, changes, cancellations by
// owners and accounts; owners hear of decisions; nobody hears of what they
// did themselves; disabled and opted-out accounts hear nothing.
func TestWhoGetsWhichMail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.s.EnableMail()
	opa := f.user(t, "opa@example.org", RoleAdmin)
	gone := f.user(t, "gone@example.org", RoleAdmin)
	if err := f.s.SetUserState(ctx, f.admin, gone.ID, StateDisabled); err != nil {
		t.Fatal(err)
	}
	clearOutbox(t, f.s)

	b := f.book(t, f.member, 1, 2, Item{AccommodationID: f.room.ID, Persons: 2})
	wantQueued(t, f.s, "booking_created→admin@example.org", "booking_created→opa@example.org")
	m := lastMail(t, f.s)
	if m.BookingID != b.ID || m.Data.Booking.Owner != "anna" || m.Data.Booking.Items[0].Name != "Zimmer 1" ||
		m.Data.Booking.Arrival != "2026-08-02" || m.Data.Booking.Status != StatusPending {
		t.Errorf("booking snapshot: %+v", m.Data.Booking)
	}
	clearOutbox(t, f.s)

	// A refused request (the room is full) mails nobody.
	if _, err := f.s.CreateBooking(ctx, f.member, BookingInput{Arrival: today + 1, Departure: today + 2,
		Items: []Item{{AccommodationID: f.room.ID, Persons: 1}}}); !errors.Is(err, ErrNoCapacity) {
		t.Fatalf("want no capacity, got %v", err)
	}
	wantQueued(t, f.s)

	if err := f.s.AcceptBooking(ctx, f.admin, b.ID); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "booking_accepted→anna@example.org")
	clearOutbox(t, f.s)

	// The notes alone: nobody needs to decide anything.
	in := BookingInput{Arrival: b.Arrival, Departure: b.Departure, Items: []Item{{AccommodationID: f.room.ID, Persons: 2}}, Notes: "Kuchen"}
	if _, err := f.s.UpdateBooking(ctx, f.member, b.ID, in); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s)
	// New dates: back to pending, the administrators hear of it with the
	// stay before and after.
	in.Departure++
	if _, err := f.s.UpdateBooking(ctx, f.member, b.ID, in); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "booking_changed→admin@example.org", "booking_changed→opa@example.org")
	m = lastMail(t, f.s)
	if m.Data.Before.Departure != "2026-08-04" || m.Data.Before.Status != StatusAccepted ||
		m.Data.Booking.Departure != "2026-08-05" || m.Data.Booking.Status != StatusPending {
		t.Errorf("change: before %+v after %+v", m.Data.Before, m.Data.Booking)
	}
	clearOutbox(t, f.s)

	// Opa turns off new requests; Oma (the actor) hears nothing of her own.
	if err := f.s.SetMailOptOuts(ctx, opa, []string{MailBookingCreated}); err != nil {
		t.Fatal(err)
	}
	f.book(t, f.admin, 10, 1, Item{AccommodationID: f.tent.ID, Persons: 1})
	wantQueued(t, f.s)
	f.book(t, f.member, 12, 1, Item{AccommodationID: f.tent.ID, Persons: 1})
	wantQueued(t, f.s, "booking_created→admin@example.org")
	clearOutbox(t, f.s)

	if err := f.s.RejectBooking(ctx, opa, b.ID, "Da ist Hochzeit; sorry"); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "booking_rejected→anna@example.org")
	if m := lastMail(t, f.s); m.Data.Booking.Reason != "Da ist Hochzeit; sorry" || m.Data.Actor != "opa@" {
		t.Errorf("rejection: %+v, actor %q", m.Data.Booking, m.Data.Actor)
	}
	clearOutbox(t, f.s)

	// Cancelled by its owner: the administrators; by an administrator: the owner.
	c1 := f.book(t, f.member, 20, 1, Item{AccommodationID: f.tent.ID, Persons: 1})
	c2 := f.book(t, f.member, 22, 1, Item{AccommodationID: f.tent.ID, Persons: 1})
	clearOutbox(t, f.s)
	if err := f.s.CancelBooking(ctx, f.member, c1.ID); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "booking_cancelled→admin@example.org", "booking_cancelled→opa@example.org")
	clearOutbox(t, f.s)
	if err := f.s.CancelBooking(ctx, f.admin, c2.ID); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "booking_cancelled→anna@example.org")
	clearOutbox(t, f.s)

	// A member who turned decisions off hears none.
	if err := f.s.SetMailOptOuts(ctx, f.member, []string{MailBookingAccepted}); err != nil {
		t.Fatal(err)
	}
	b3 := f.book(t, f.member, 25, 1, Item{AccommodationID: f.tent.ID, Persons: 1})
	clearOutbox(t, f.s)
	if err := f.s.AcceptBooking(ctx, f.admin, b3.ID); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s)
	// A member cannot turn off what only administrators get.
	if err := f.s.SetMailOptOuts(ctx, f.member, []string{MailMemberWaiting}); !errors.Is(err, ErrInvalid) {
		t.Errorf("member opted out of an admin kind: %v", err)
	}
	if off, _ := f.s.MailOptOuts(ctx, f.member.ID); !off[MailBookingAccepted] || len(off) != 1 {
		t.Errorf("opt-outs: %v", off)
	}
}

func lastMail(t *testing.T, s *Store) *Mail {
	t.Helper()
	ms, err := s.Outbox(context.Background(), 1)
	if err != nil || len(ms) == 0 {
		t.Fatalf("no mail: %v", err)
	}
	return ms[0]
}

func TestAccountMails(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.s.EnableMail()
	in := f.s.Settings().Input()
	in.SelfRegistration = true
	if err := f.s.UpdateSettings(ctx, f.admin, in); err != nil {
		t.Fatal(err)
	}
	clearOutbox(t, f.s)
	u, err := f.s.Register(ctx, NewUser{Email: "neu@example.org", Name: "Neu", Password: "lang genug"})
	if err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "member_waiting→admin@example.org")
	if m := lastMail(t, f.s); m.Data.Member.Name != "Neu" || m.Data.Member.Email != "neu@example.org" {
		t.Errorf("member: %+v", m.Data.Member)
	}
	clearOutbox(t, f.s)
	if err := f.s.SetUserState(ctx, f.admin, u.ID, StateApproved); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "account_approved→neu@example.org")
	clearOutbox(t, f.s)
	// Enabling a disabled account is no news by mail.
	if err := f.s.SetUserState(ctx, f.admin, u.ID, StateDisabled); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetUserState(ctx, f.admin, u.ID, StateApproved); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s)

	// An invitation by mail carries a working link; joining tells the
	// administrators.
	token, invited, err := f.s.InviteByMail(ctx, f.admin, NewUser{Email: "ben@example.org", Name: "Ben", Role: RoleMember})
	if err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "invitation→ben@example.org")
	m := lastMail(t, f.s)
	if m.Data.Token != token || m.RecipientID != invited.ID || m.State != StateInvited ||
		!m.Data.Expires.Equal(f.clock.Now().Add(InviteTTL).UTC()) {
		t.Errorf("invitation: %+v state %s", m.Data, m.State)
	}
	// A plain Invite (the link to copy) mails nothing.
	if _, _, err := f.s.Invite(ctx, f.admin, NewUser{Email: "cleo@example.org", Name: "Cleo", Role: RoleMember}); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "invitation→ben@example.org")
	renewed, err := f.s.RenewInvitationByMail(ctx, f.admin, invited.ID)
	if err != nil {
		t.Fatal(err)
	}
	if lastMail(t, f.s).Data.Token != renewed {
		t.Errorf("the renewed invitation carries another token")
	}
	clearOutbox(t, f.s)
	if _, err := f.s.UseLink(ctx, renewed, PurposeInvite, "ein gutes Passwort"); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "member_joined→admin@example.org")
}

func TestPasswordResetByMail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.s.EnableMail()
	for _, email := range []string{"nobody@example.org", ""} {
		if err := f.s.RequestPasswordReset(ctx, email); err != nil {
			t.Errorf("%q: %v", email, err)
		}
	}
	wantQueued(t, f.s)
	if err := f.s.RequestPasswordReset(ctx, "ANNA@example.org"); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "password_reset→anna@example.org")
	m := lastMail(t, f.s)
	if u, err := f.s.TokenUser(ctx, m.Data.Token, PurposeReset); err != nil || u.ID != f.member.ID {
		t.Fatalf("the mailed link: %v", err)
	}
	// Asking again at once sends nothing more; the first link still works.
	if err := f.s.RequestPasswordReset(ctx, "anna@example.org"); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "password_reset→anna@example.org")
	// Delivered: the outbox forgets the secret.
	if err := f.s.MailDelivered(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.s.Mail(ctx, m.ID); got.Data.Token != "" || got.Status != MailSent || got.CanSendAgain(f.clock.Now()) {
		t.Errorf("after delivery: token %q status %s", got.Data.Token, got.Status)
	}
	// The link lives an hour.
	f.clock.Set(f.clock.Now().Add(SelfResetTTL + time.Second))
	if _, err := f.s.TokenUser(ctx, m.Data.Token, PurposeReset); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("a link older than an hour: %v", err)
	}
	// A while later another mail may go, with a new link that replaces
	// the old one.
	if err := f.s.RequestPasswordReset(ctx, "anna@example.org"); err != nil {
		t.Fatal(err)
	}
	if n := len(queued(t, f.s)); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
	// Disabled accounts get none.
	if err := f.s.SetUserState(ctx, f.admin, f.member.ID, StateDisabled); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(f.clock.Now().Add(time.Hour))
	if err := f.s.RequestPasswordReset(ctx, "anna@example.org"); err != nil {
		t.Fatal(err)
	}
	if n := len(queued(t, f.s)); n != 2 {
		t.Errorf("%d mails after disabling, want 2", n)
	}
}

// TestRegistrationAttemptMail (finding 10): a registration with the address
// of an account tells its owner by mail, in the transaction that refuses
// it, at most once an hour; accounts that cannot log in are not told, and
// a refusal that mails nothing changes nothing.
func TestRegistrationAttemptMail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := f.s.Settings().Input()
	in.SelfRegistration = true
	if err := f.s.UpdateSettings(ctx, f.admin, in); err != nil {
		t.Fatal(err)
	}
	register := func(name, email string) error {
		t.Helper()
		_, err := f.s.Register(ctx, NewUser{Email: email, Name: name, Password: "lang genug"})
		return err
	}
	// Mail off: nothing to tell with.
	if err := register("Fremd", f.member.Email); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("mail off: %v", err)
	}
	wantQueued(t, f.s)

	f.s.EnableMail()
	if err := register("Fremd", "ANNA@example.org"); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("registration with Anna's address: %v", err)
	}
	wantQueued(t, f.s, "registration_attempt→anna@example.org")
	m := lastMail(t, f.s)
	if m.RecipientID != f.member.ID || m.Data.Member != nil || m.Data.Actor != "" {
		t.Errorf("the mail names someone: recipient %d, data %+v", m.RecipientID, m.Data)
	}
	if _, err := f.s.UserByEmail(ctx, "anna@example.org"); err != nil {
		t.Fatal(err)
	}
	if us, _ := f.s.Users(ctx); len(us) != 2 {
		t.Errorf("%d accounts after a refused registration, want 2", len(us))
	}

	// Within the hour: refused as before, no mail, and nothing committed
	// (cached pages stay).
	gen := f.s.Generation()
	f.clock.Set(f.clock.Now().Add(59 * time.Minute))
	if err := register("Fremd", "anna@example.org"); !errors.Is(err, ErrAccountExists) {
		t.Fatalf("second registration: %v", err)
	}
	// Anna's own name beside her address: the name is the problem shown,
	// as it would be for any address.
	var ve *ValidationError
	if err := register("Anna", "anna@example.org"); !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Key != KeyUserNameTaken {
		t.Fatalf("taken name and address: %v", err)
	}
	wantQueued(t, f.s, "registration_attempt→anna@example.org")
	if f.s.Generation() != gen {
		t.Errorf("a refusal without mail committed a transaction")
	}
	// The limit is per kind: a reset link still goes.
	if err := f.s.RequestPasswordReset(ctx, "anna@example.org"); err != nil {
		t.Fatal(err)
	}
	wantQueued(t, f.s, "registration_attempt→anna@example.org", "password_reset→anna@example.org")

	// After the hour the owner is told again, also when the name was the
	// problem shown.
	f.clock.Set(f.clock.Now().Add(2 * time.Minute))
	if err := register("Anna", "anna@example.org"); !errors.As(err, &ve) || ve.Problems[0].Key != KeyUserNameTaken {
		t.Fatalf("taken name and address after an hour: %v", err)
	}
	wantQueued(t, f.s, "registration_attempt→anna@example.org", "password_reset→anna@example.org", "registration_attempt→anna@example.org")

	// Disabled, rejected and invited accounts are not told.
	clearOutbox(t, f.s)
	for _, st := range []string{StateDisabled, StateRejected, StateInvited} {
		u, err := f.s.CreateUser(ctx, NewUser{Email: st + "@example.org", Name: "Konto " + st, Role: RoleMember, State: StateInvited})
		if err != nil {
			t.Fatal(err)
		}
		if st != StateInvited {
			if err := f.s.SetUserState(ctx, f.admin, u.ID, st); err != nil {
				t.Fatal(err)
			}
		}
		if err := register("Fremd", u.Email); !errors.Is(err, ErrAccountExists) {
			t.Errorf("%s: %v", st, err)
		}
	}
	wantQueued(t, f.s)

	// The mail is part of the refusal's transaction: when it cannot be
	// written, the registration fails instead of passing without it.
	if _, err := f.s.writer.Exec(`CREATE TRIGGER refuse_mail BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'no mail today'); END`); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(f.clock.Now().Add(2 * time.Hour))
	if err := register("Fremd", "anna@example.org"); err == nil || !strings.Contains(err.Error(), "no mail today") {
		t.Errorf("want the trigger's error, got %v", err)
	}
}

// TestOutboxCommitsWithTheChange makes the outbox insert fail inside the
// booking's transaction: the booking is not there either, and the sender is
// not woken. A change that commits wakes it.
func TestOutboxCommitsWithTheChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.s.EnableMail()
	clearOutbox(t, f.s)
	if _, err := f.s.writer.Exec(`CREATE TRIGGER refuse_mail BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'no mail today'); END`); err != nil {
		t.Fatal(err)
	}
	_, err := f.s.CreateBooking(ctx, f.member, BookingInput{Arrival: today + 1, Departure: today + 2, Items: []Item{{AccommodationID: f.room.ID, Persons: 1}}})
	if err == nil || !strings.Contains(err.Error(), "no mail today") {
		t.Fatalf("want the trigger's error, got %v", err)
	}
	if bs, _ := f.s.Bookings(ctx, BookingFilter{When: WhenAll}); len(bs) != 0 {
		t.Errorf("the booking was kept without its mail")
	}
	select {
	case <-f.s.MailWaiting():
		t.Errorf("a rolled-back transaction woke the sender")
	default:
	}
	if _, err := f.s.writer.Exec(`DROP TRIGGER refuse_mail`); err != nil {
		t.Fatal(err)
	}
	f.book(t, f.member, 1, 1, Item{AccommodationID: f.room.ID, Persons: 1})
	select {
	case <-f.s.MailWaiting():
	default:
		t.Errorf("a committed mail did not wake the sender")
	}
	wantQueued(t, f.s, "booking_created→admin@example.org")
}

func TestOutboxAttempts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.s.EnableMail()
	clearOutbox(t, f.s)
	gen := f.s.Generation()
	if err := f.s.QueueTestMail(ctx, f.admin, "kein mail"); err == nil {
		t.Errorf("a bad address was queued")
	}
	if err := f.s.QueueTestMail(ctx, f.member, "x@example.org"); !errors.Is(err, ErrForbidden) {
		t.Errorf("a member queued a test mail: %v", err)
	}
	if err := f.s.QueueTestMail(ctx, f.admin, "test@example.org"); err != nil {
		t.Fatal(err)
	}
	due, err := f.s.DueMail(ctx, 10)
	if err != nil || len(due) != 1 || due[0].Kind != MailTest || due[0].To != "test@example.org" {
		t.Fatalf("due: %v %+v", err, due)
	}
	m := due[0]
	// A failed attempt waits for its retry.
	retry := f.clock.Now().Add(time.Minute)
	if err := f.s.MailAttemptFailed(ctx, m.ID, "451 4.3.0 try later", retry); err != nil {
		t.Fatal(err)
	}
	if due, _ := f.s.DueMail(ctx, 10); len(due) != 0 {
		t.Errorf("due before its retry")
	}
	if next, ok, _ := f.s.NextMailDue(ctx); !ok || !next.Equal(retry.UTC().Truncate(time.Microsecond)) {
		t.Errorf("next due %v %v, want %v", next, ok, retry)
	}
	f.clock.Set(retry)
	due, _ = f.s.DueMail(ctx, 10)
	if len(due) != 1 || due[0].Attempts != 1 || due[0].LastError != "451 4.3.0 try later" {
		t.Fatalf("at the retry: %+v", due)
	}
	if n, _ := f.s.CountMailQueued(ctx); n != 1 {
		t.Errorf("queue %d", n)
	}
	// Giving up: failed, shown, and sent again by an administrator.
	if err := f.s.MailAttemptFailed(ctx, m.ID, "550 no such user", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.MailDelivered(ctx, m.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("a failed mail was marked sent: %v", err)
	}
	got, _ := f.s.Mail(ctx, m.ID)
	if got.Status != MailFailed || got.Attempts != 2 || got.LastError != "550 no such user" {
		t.Errorf("failed: %+v", got)
	}
	if n, _ := f.s.CountMailQueued(ctx); n != 0 {
		t.Errorf("queue %d", n)
	}
	if err := f.s.SendMailAgain(ctx, f.member, m.ID); !errors.Is(err, ErrForbidden) {
		t.Errorf("a member sent again: %v", err)
	}
	if err := f.s.SendMailAgain(ctx, f.admin, m.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = f.s.Mail(ctx, m.ID)
	if got.Status != MailQueued || got.Attempts != 0 || got.MessageID != m.MessageID {
		t.Errorf("sent again: %+v", got)
	}
	if err := f.s.SendMailAgain(ctx, f.admin, m.ID); !errors.Is(err, ErrConflict) {
		t.Errorf("a queued mail was sent again: %v", err)
	}
	// A sent mail sent again is a second mail with its own Message-ID.
	if err := f.s.MailDelivered(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SendMailAgain(ctx, f.admin, m.ID); err != nil {
		t.Fatal(err)
	}
	ms, _ := f.s.Outbox(ctx, 10)
	if len(ms) != 2 || ms[0].Status != MailQueued || ms[0].MessageID == m.MessageID || ms[1].Status != MailSent {
		t.Errorf("after sending a sent mail again: %+v %+v", ms[0], ms[1])
	}
	if f.s.Generation() != gen {
		t.Errorf("mail bookkeeping threw the page caches away")
	}
	// Old mail goes, queued mail stays.
	if err := f.s.DeleteOldMail(ctx, f.clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if ms, _ := f.s.Outbox(ctx, 10); len(ms) != 1 || ms[0].Status != MailQueued {
		t.Errorf("after cleaning up: %d mails", len(ms))
	}
}

func TestFeedTokensAndBookings(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if tok, err := f.s.FeedToken(ctx, f.member.ID); err != nil || tok != "" {
		t.Fatalf("before: %q %v", tok, err)
	}
	old, err := f.s.NewFeedToken(ctx, f.member.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := f.s.FeedUser(ctx, old); err != nil || u.ID != f.member.ID {
		t.Fatalf("feed user: %v", err)
	}
	tok, _ := f.s.NewFeedToken(ctx, f.member.ID)
	if got, _ := f.s.FeedToken(ctx, f.member.ID); got != tok || tok == old {
		t.Errorf("token %q, made %q, old %q", got, tok, old)
	}
	if _, err := f.s.FeedUser(ctx, old); !errors.Is(err, ErrNotFound) {
		t.Errorf("a replaced token: %v", err)
	}
	if _, err := f.s.FeedUser(ctx, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("no token: %v", err)
	}

	b := f.book(t, f.member, 1, 2, Item{AccommodationID: f.room.ID, Persons: 1})
	in := BookingInput{Arrival: b.Arrival, Departure: b.Departure + 1, Items: []Item{{AccommodationID: f.room.ID, Persons: 1}}}
	if _, err := f.s.UpdateBooking(ctx, f.member, b.ID, in); err != nil {
		t.Fatal(err)
	}
	if err := f.s.AcceptBooking(ctx, f.admin, b.ID); err != nil {
		t.Fatal(err)
	}
	other := f.book(t, f.admin, 3, 1, Item{AccommodationID: f.tent.ID, Persons: 1})
	if err := f.s.CancelBooking(ctx, f.admin, other.ID); err != nil {
		t.Fatal(err)
	}
	past := f.book(t, f.member, 5, 1, Item{AccommodationID: f.tent.ID, Persons: 1})
	if err := f.s.RejectBooking(ctx, f.admin, past.ID, "nein"); err != nil {
		t.Fatal(err)
	}
	since := f.clock.Now().Add(-30 * 24 * time.Hour)
	all, err := f.s.FeedBookings(ctx, 0, today-365, since)
	if err != nil {
		t.Fatal(err)
	}
	seqs := map[int64]int{}
	for _, fb := range all {
		seqs[fb.ID] = fb.Sequence
	}
	if len(all) != 3 || seqs[b.ID] != 2 || seqs[other.ID] != 1 || seqs[past.ID] != 1 {
		t.Errorf("house feed: %v", seqs)
	}
	mine, _ := f.s.FeedBookings(ctx, f.member.ID, today-365, since)
	if len(mine) != 2 {
		t.Errorf("my feed has %d bookings", len(mine))
	}
	// Cancelled long ago: gone from the feeds.
	if later, _ := f.s.FeedBookings(ctx, 0, today-365, f.clock.Now().Add(time.Hour)); len(later) != 1 || later[0].ID != b.ID {
		t.Errorf("after the cancelled ones aged out: %d", len(later))
	}
	// A disabled member's feed is gone.
	if err := f.s.SetUserState(ctx, f.admin, f.member.ID, StateDisabled); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.FeedUser(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Errorf("feed of a disabled member: %v", err)
	}

	// The house feed's privacy setting survives other settings and a reopen.
	if err := f.s.SetHouseFeedOccupiedOnly(ctx, f.member, true); !errors.Is(err, ErrForbidden) {
		t.Errorf("member changed the feed setting: %v", err)
	}
	if err := f.s.SetHouseFeedOccupiedOnly(ctx, f.admin, true); err != nil {
		t.Fatal(err)
	}
	settings := f.s.Settings().Input()
	settings.HouseName = "Laube"
	if err := f.s.UpdateSettings(ctx, f.admin, settings); err != nil {
		t.Fatal(err)
	}
	if !f.s.Settings().HouseFeedOccupiedOnly {
		t.Errorf("the other settings reset the feed setting")
	}
	path := f.s.Path()
	f.s.Close()
	s2, err := Open(ctx, path, Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !s2.Settings().HouseFeedOccupiedOnly {
		t.Errorf("the feed setting did not survive a reopen")
	}
}

package store

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testUserOf reads "uid=N;..." session data, the test's stand-in for the
// handlers' codec.
func testUserOf(b []byte) int64 {
	s, _, _ := strings.Cut(strings.TrimPrefix(string(b), "uid="), ";")
	id, _ := strconv.ParseInt(s, 10, 64)
	return id
}

func sessionRow(t *testing.T, s *Store, token string) (expiry float64, uid int64, revoked int, ok bool) {
	t.Helper()
	err := s.reader.QueryRow(`SELECT expiry, ifnull(user_id, 0), revoked FROM sessions WHERE token = ?`, token).Scan(&expiry, &uid, &revoked)
	return expiry, uid, revoked, err == nil
}

// TestSessionStore: rows name their user; an unchanged session is not
// rewritten for a small move of its expiry; a deleted session stays deleted
// even when a request that loaded it commits afterwards.
func TestSessionStore(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ss := f.s.SessionsWith(SessionOptions{UserOf: testUserOf, Refresh: time.Hour})
	exp := time.Now().Add(24 * time.Hour)
	data := []byte("uid=" + strconv.FormatInt(f.member.ID, 10) + ";role=member")
	if err := ss.CommitCtx(ctx, "a", data, exp); err != nil {
		t.Fatal(err)
	}
	e0, uid, _, ok := sessionRow(t, f.s, "a")
	if !ok || uid != f.member.ID {
		t.Fatalf("row: %v, user %d", ok, uid)
	}
	// A minute later: not written.
	if err := ss.CommitCtx(ctx, "a", data, exp.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if e1, _, _, _ := sessionRow(t, f.s, "a"); e1 != e0 {
		t.Errorf("a small move of the expiry was written")
	}
	// Two hours later, or other data: written.
	if err := ss.CommitCtx(ctx, "a", data, exp.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if e2, _, _, _ := sessionRow(t, f.s, "a"); e2 == e0 {
		t.Errorf("an expiry two hours later was not written")
	}
	flash := append(append([]byte{}, data...), ";flash=x"...)
	if err := ss.CommitCtx(ctx, "a", flash, exp.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got, ok, _ := ss.FindCtx(ctx, "a"); !ok || string(got) != string(flash) {
		t.Errorf("changed data not written: %q", got)
	}
	if n, _ := f.s.LiveSessions(ctx, f.member.ID); n != 1 {
		t.Errorf("%d live sessions, want 1", n)
	}
	// A logout: the row is a tombstone a later commit cannot revive.
	if err := ss.DeleteCtx(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := ss.CommitCtx(ctx, "a", data, exp.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := ss.FindCtx(ctx, "a"); ok {
		t.Errorf("a deleted session came back")
	}
	if e, _, revoked, ok := sessionRow(t, f.s, "a"); !ok || revoked != 1 || e > julian(time.Now().Add(tombstoneTTL+time.Minute)) {
		t.Errorf("tombstone: present %v, revoked %d, expiry %v", ok, revoked, e)
	}
	// Anonymous data names no user.
	if err := ss.CommitCtx(ctx, "b", []byte("flash=x"), exp); err != nil {
		t.Fatal(err)
	}
	if _, uid, _, _ := sessionRow(t, f.s, "b"); uid != 0 {
		t.Errorf("anonymous row names user %d", uid)
	}
}

// TestChangesRevokeSessions: the store ends a user's sessions in the same
// transaction as a new password, a reset, a rejection or disabling, and a
// new role; a profile change or an approval keeps them.
func TestChangesRevokeSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ss := f.s.SessionsWith(SessionOptions{UserOf: testUserOf})
	login := func(u *User) string {
		t.Helper()
		token := rand.Text()
		if err := ss.CommitCtx(ctx, token, []byte("uid="+strconv.FormatInt(u.ID, 10)), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		return token
	}
	other := f.user(t, "ben@example.org", RoleMember)
	steps := []struct {
		name   string
		change func() error
		ends   bool
	}{
		{"profile", func() error { return f.s.UpdateProfile(ctx, f.member.ID, "Anna B.", "en") }, false},
		{"password", func() error { return f.s.SetPassword(ctx, f.member.ID, "Apfelbaum2027") }, true},
		{"reset link", func() error {
			token, err := f.s.NewResetLink(ctx, f.admin, f.member.ID)
			if err == nil {
				_, err = f.s.UseLink(ctx, token, PurposeReset, "Birnbaum2027")
			}
			return err
		}, true},
		{"disabled", func() error { return f.s.SetUserState(ctx, f.admin, f.member.ID, StateDisabled) }, true},
		{"approved", func() error { return f.s.SetUserState(ctx, f.admin, f.member.ID, StateApproved) }, false},
		{"role", func() error { return f.s.SetUserRole(ctx, f.admin, f.member.ID, RoleAdmin) }, true},
		{"rejected", func() error { return f.s.SetUserState(ctx, f.admin, f.member.ID, StateRejected) }, true},
	}
	for _, st := range steps {
		mine, theirs := login(f.member), login(other)
		if err := st.change(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		_, alive, _ := ss.FindCtx(ctx, mine)
		if alive == st.ends {
			t.Errorf("%s: session alive %v, want %v", st.name, alive, !st.ends)
		}
		if _, ok, _ := ss.FindCtx(ctx, theirs); !ok {
			t.Errorf("%s: another user's session ended", st.name)
		}
	}
}

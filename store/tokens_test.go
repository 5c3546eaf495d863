package store

import (
	"context"
	"errors"
	"testing"
)

// TestLinksRespectTheAccountsState: an invitation approves only an account
// that is still invited; any state change by an administrator voids the
// account's links.
func TestLinksRespectTheAccountsState(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	invite := func(email string) (string, *User) {
		t.Helper()
		token, u, err := f.s.Invite(ctx, f.admin, NewUser{Email: email, Name: email, Role: RoleMember})
		if err != nil {
			t.Fatal(err)
		}
		return token, u
	}
	for _, state := range []string{StateDisabled, StateRejected, StateApproved} {
		token, u := invite(state + "@example.org")
		if err := f.s.SetUserState(ctx, f.admin, u.ID, state); err != nil {
			t.Fatal(err)
		}
		if _, err := f.s.UseLink(ctx, token, PurposeInvite, "Walnuss2027"); !errors.Is(err, ErrTokenInvalid) {
			t.Errorf("invitation after %s: %v, want ErrTokenInvalid", state, err)
		}
		if got, _ := f.s.User(ctx, u.ID); got.State != state {
			t.Errorf("the old invitation changed %s to %s", state, got.State)
		}
	}
	// Invited and still so: the link works once.
	token, u := invite("dora@example.org")
	if got, err := f.s.UseLink(ctx, token, PurposeInvite, "Walnuss2027"); err != nil || got.ID != u.ID || got.State != StateApproved {
		t.Fatalf("invitation: %v %+v", err, got)
	}
	// A reset link for a disabled account is void, and stays void.
	reset, err := f.s.NewResetLink(ctx, f.admin, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetUserState(ctx, f.admin, u.ID, StateDisabled); err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetUserState(ctx, f.admin, u.ID, StateApproved); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.UseLink(ctx, reset, PurposeReset, "Haselnuss2027"); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("reset link after disable and enable: %v", err)
	}
}

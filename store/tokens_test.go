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

// TestRegister: an existing address is ErrAccountExists (the caller answers
// as for a new one); at most MaxWaitingAccounts accounts wait.
func TestRegister(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	in := f.s.Settings().Input()
	in.SelfRegistration, in.MaxWaitingAccounts = true, 2
	if err := f.s.UpdateSettings(ctx, f.admin, in); err != nil {
		t.Fatal(err)
	}
	reg := func(name, email string) error {
		_, err := f.s.Register(ctx, NewUser{Name: name, Email: email, Password: "Kirschbaum7x"})
		return err
	}
	if err := reg("Dora", "dora@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := reg("Dieter", "ANNA@example.org"); !errors.Is(err, ErrAccountExists) {
		t.Errorf("existing address: %v", err)
	}
	// A taken name with a taken email: the name, never the email.
	err := reg("ANNA", "anna@example.org")
	wantProblem(t, err, "name", KeyUserNameTaken)
	if ve := (*ValidationError)(nil); errors.As(err, &ve) {
		if _, leaked := ve.Field("email"); leaked {
			t.Errorf("the registration tells that the email is taken: %v", err)
		}
	}
	if err := reg("Emil", "emil@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := reg("Fritz", "fritz@example.org"); !errors.Is(err, ErrRegistrationsFull) {
		t.Errorf("third waiting account: %v", err)
	}
	if err := reg("Dieter", "anna@example.org"); !errors.Is(err, ErrRegistrationsFull) {
		t.Errorf("existing address when full: %v", err)
	}
	if open, _ := f.s.RegistrationOpen(ctx); open {
		t.Errorf("registration open with 2 of 2 waiting")
	}
}

package store

import (
	"context"
	"testing"
)

func TestWeakPasswords(t *testing.T) {
	if n := len(commonPasswords()); n < 3400 {
		t.Fatalf("only %d common passwords loaded", n)
	}
	for _, pw := range []string{"12345678", "123456789", "password", "Password1", "PASSWORT", "passwort123", "P@ssw0rd1", "p4ssw0rd",
		"        ", "aaaaaaaa", "ÄÄÄÄÄÄÄÄ", "12121212", "xyzxyzxyz", "abcdefgh", "hgfedcba", "qwertzuiop", "qwertyui", "yxcvbnm,",
		"1q2w3e4r", "iloveyou", "ichliebedich", "fussball2026", "!!michael!!", "sonnenschein", "trustno1", "abcd2027"} {
		if !weakPassword(pw) {
			t.Errorf("%q passes", pw)
		}
	}
	for _, pw := range []string{"Gartenhaus2026", "Kirschbaum am Teich", "Walnuss2027", "Apfelkuchen mit Sahne", "ju8Hh2!kPq", "Oma kocht Marmelade",
		"83920571", "Wohnwagen-Ostsee"} {
		if weakPassword(pw) {
			t.Errorf("%q refused", pw)
		}
	}
}

// TestCommonPasswordsEverywhere: each way of choosing a password refuses
// a common one.
func TestCommonPasswordsEverywhere(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.s.CreateUser(ctx, NewUser{Email: "x@example.org", Name: "X", Role: RoleMember, State: StateApproved, Password: "password1"})
	wantProblem(t, err, "password", KeyPasswordCommon)
	wantProblem(t, f.s.SetPassword(ctx, f.member.ID, "qwertz123"), "password", KeyPasswordCommon)
	token, err := f.s.NewResetLink(ctx, f.admin, f.member.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.s.UseLink(ctx, token, PurposeReset, "12345678")
	wantProblem(t, err, "password", KeyPasswordCommon)
	_, err = f.s.UseLink(ctx, token, PurposeReset, "kurz")
	wantProblem(t, err, "password", KeyPasswordShort)
}

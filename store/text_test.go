package store

import "testing"

func TestNameKey(t *testing.T) {
	same := [][]string{
		{"Member A", "member a", "MEMBER  A", " Member A ", "Mémber Á", "Member А" /* Cyrillic А */, "Μember A" /* Greek Μ */, "Member_A"},
		{"Oma", "OMA", "ОМА" /* all Cyrillic */, "0ma", "Ôma"},
		{"Jürgen Groß", "Jurgen Gross", "JÜRGEN GROSS", "Ju\u0308rgen Groß"},
		{"Lisa", "Iisa", "1isa"},
	}
	for _, group := range same {
		for _, n := range group[1:] {
			if nameKey(n) != nameKey(group[0]) {
				t.Errorf("%q and %q are different names (%q, %q)", group[0], n, nameKey(group[0]), nameKey(n))
			}
		}
	}
	for _, pair := range [][2]string{{"Anna", "Anne"}, {"Ben", "Bent"}, {"Oma", "Opa"}, {"Anna B.", "Anna C."}} {
		if nameKey(pair[0]) == nameKey(pair[1]) {
			t.Errorf("%q and %q are one name", pair[0], pair[1])
		}
	}
}

func TestPlainText(t *testing.T) {
	for _, s := range []string{"Anna", "Jürgen Groß", "Zoë", "María José", "李小龙", "Ольга", "Anna 🌻", "O'Brien-Smith", "Ju\u0308rgen", "Vi\u1EC7t"} {
		if !plainText(s, false) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"Anna\u202e", "\u202eanimda", "Anna\x1b[31m", "An\u200bna", "Anna\u2066x\u2069", "A\nB", "Anna\x00", "\xff\xfe",
		"A\u0300\u0301\u0302\u0303", "\ue000", "Anna\u2028"} {
		if plainText(s, false) {
			t.Errorf("%q accepted", s)
		}
	}
	if !plainText("Wir kommen\r\nmit Hund\tund Katze", true) || plainText("Wir\u202ekommen", true) {
		t.Errorf("multiline text")
	}
}

// TestUserNames: the store refuses taken and unsafe names on every path
// that sets one, and leaves an old name that breaks today's rules alone
// until its owner changes it.
func TestUserNames(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	// The fixture's member is called "anna".
	_, err := f.s.CreateUser(ctx, NewUser{Email: "x@example.org", Name: "ANNA", Role: RoleMember, State: StateApproved})
	wantProblem(t, err, "name", KeyUserNameTaken)
	_, _, err = f.s.Invite(ctx, f.admin, NewUser{Email: "y@example.org", Name: " Ánnа " /* Cyrillic а */, Role: RoleMember})
	wantProblem(t, err, "name", KeyUserNameTaken)
	_, err = f.s.CreateUser(ctx, NewUser{Email: "z@example.org", Name: "Eve\u202e", Role: RoleMember, State: StateApproved})
	wantProblem(t, err, "name", KeyBadCharacters)
	// A rejected account holds no name.
	r, err := f.s.CreateUser(ctx, NewUser{Email: "r@example.org", Name: "Opa", Role: RoleMember, State: StateRegistered})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.SetUserState(ctx, f.admin, r.ID, StateRejected); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.CreateUser(ctx, NewUser{Email: "opa@example.org", Name: "Opa", Role: RoleMember, State: StateApproved}); err != nil {
		t.Errorf("the name of a rejected account: %v", err)
	}
	// An old name with a direction character: the language switch keeps
	// working, a new bad name does not pass.
	if _, err := f.s.writer.ExecContext(ctx, `UPDATE users SET name = ? WHERE id = ?`, "Anna\u202e", f.member.ID); err != nil {
		t.Fatal(err)
	}
	path := f.s.Path()
	f.s.Close()
	s2, err := Open(ctx, path, Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.UpdateProfile(ctx, f.member.ID, "Anna\u202e", "en"); err != nil {
		t.Errorf("language switch with an old name: %v", err)
	}
	wantProblem(t, s2.UpdateProfile(ctx, f.member.ID, "Anna\u202d", "en"), "name", KeyBadCharacters)
}

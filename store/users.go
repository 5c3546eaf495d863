package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
)

// Roles and states of a user.
const (
	RoleMember = "member"
	RoleAdmin  = "admin"

	StateInvited    = "invited"
	StateRegistered = "registered"
	StateVerified   = "verified"
	StateApproved   = "approved"
	StateRejected   = "rejected"
	StateDisabled   = "disabled"
)

// Languages the interface speaks; "" means "follow the browser".
var Languages = []string{"de", "en"}

// UserStates in the order an account moves through them.
var UserStates = []string{StateInvited, StateRegistered, StateVerified, StateApproved, StateRejected, StateDisabled}

// User is a family member or administrator.
type User struct {
	ID        int64
	Email     string
	Name      string
	Role      string
	State     string
	Language  string
	CreatedAt time.Time
}

// IsAdmin is true for an approved administrator; a disabled admin has no
// rights at all.
func (u *User) IsAdmin() bool { return u != nil && u.Role == RoleAdmin && u.State == StateApproved }

// CanBook is true for approved accounts.
func (u *User) CanBook() bool { return u != nil && u.State == StateApproved }

const userColumns = `id, email, name, role, state, language, created_at`

func scanUser(row interface{ Scan(...any) error }) (*User, error) {
	var u User
	var created string
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.State, &u.Language, &created); err != nil {
		return nil, err
	}
	u.CreatedAt = parseTimestamp(created)
	return &u, nil
}

// NewUser is the input for CreateUser.
type NewUser struct {
	Email    string
	Name     string
	Role     string
	State    string
	Password string // may be empty for an invited user who sets it later
	Language string
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

func validateUser(in *NewUser) problems {
	var ps problems
	in.Email = strings.TrimSpace(in.Email)
	switch {
	case in.Email == "":
		ps.add("email", KeyRequired)
	case len(in.Email) > 254 || !validEmail(in.Email):
		ps.add("email", KeyBadEmail)
	}
	validateName(&ps, &in.Name)
	if in.Role != RoleMember && in.Role != RoleAdmin {
		ps.add("role", KeyBadRole)
	}
	validateLanguage(&ps, in.Language)
	return ps
}

// validateName checks a display name and brings it into its stored form
// (trimmed, composed accents).
func validateName(ps *problems, name *string) {
	*name = norm.NFC.String(strings.TrimSpace(*name))
	switch {
	case *name == "":
		ps.add("name", KeyRequired)
	case !plainText(*name, false):
		ps.add("name", KeyBadCharacters)
	case len([]rune(*name)) > 100:
		ps.add("name", KeyTooLong, 100)
	}
}

func validateLanguage(ps *problems, lang string) {
	if lang != "" && lang != "de" && lang != "en" {
		ps.add("language", KeyBadLanguage)
	}
}

// checkNameFree refuses a display name that another account has, ignoring
// case, accents and look-alike letters (nameKey), so that nobody can pass
// for another member. Rejected accounts hold no name. Run it in the write
// transaction, so two accounts cannot take one name at once.
func checkNameFree(ctx context.Context, tx *sql.Tx, name string, except int64) error {
	key := nameKey(name)
	rows, err := tx.QueryContext(ctx, `SELECT name FROM users WHERE id <> ? AND state <> 'rejected'`, except)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var other string
		if err := rows.Scan(&other); err != nil {
			return err
		}
		if nameKey(other) == key {
			return &ValidationError{Problems: []Problem{{Field: "name", Key: KeyUserNameTaken}}}
		}
	}
	return rows.Err()
}

// CreateUser adds an account. It is the low-level entry used by the command
// line and by the invitation and setup flows.
func (s *Store) CreateUser(ctx context.Context, in NewUser) (*User, error) {
	return s.createUser(ctx, in, nil, nil)
}

// createUser is CreateUser with a check that runs first in its
// transaction, and taken, which runs in it when the email belongs to
// account userID. The refusal that follows rolls the transaction back,
// unless taken queued mail: that is committed with the refusal, so the
// mail is there exactly when the email was found taken.
func (s *Store) createUser(ctx context.Context, in NewUser, check func(*sql.Tx) error, taken func(tx *sql.Tx, userID int64) error) (*User, error) {
	ps := validateUser(&in)
	valid := false
	for _, st := range UserStates {
		valid = valid || st == in.State
	}
	if !valid {
		return nil, fmt.Errorf("create user: unknown state %q", in.State)
	}
	if in.Password != "" {
		checkNewPassword(&ps, in.Password)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	hash := ""
	if in.Password != "" {
		var err error
		if hash, err = s.HashPassword(in.Password); err != nil {
			return nil, fmt.Errorf("create user: %w", err)
		}
	}
	now := timestamp(s.now())
	var id int64
	var refused error // a refusal committed with taken's mail
	err := s.write(ctx, func(tx *sql.Tx) error {
		if check != nil {
			if err := check(tx); err != nil {
				return err
			}
		}
		// Both a taken name and a taken email, so the form shows both.
		var ps problems
		var ve *ValidationError
		if err := checkNameFree(ctx, tx, in.Name, 0); errors.As(err, &ve) {
			ps = append(ps, ve.Problems...)
		} else if err != nil {
			return err
		}
		var owner int64
		switch err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE email = ?`, in.Email).Scan(&owner); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			ps.add("email", KeyEmailTaken)
		}
		if err := ps.err(); err != nil {
			if owner == 0 || taken == nil {
				return err
			}
			if terr := taken(tx, owner); terr != nil {
				return terr
			}
			if s.queuedMail(tx) {
				refused = err
				return nil
			}
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO users (email, name, role, state, password_hash, language, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			in.Email, in.Name, in.Role, in.State, hash, in.Language, now, now).Scan(&id); err != nil {
			return err
		}
		if in.State == StateRegistered {
			return s.queueMemberMail(ctx, tx, MailMemberWaiting, id)
		}
		return nil
	})
	if isUniqueViolation(err) {
		return nil, &ValidationError{Problems: []Problem{{Field: "email", Key: KeyEmailTaken}}}
	}
	if err == nil {
		err = refused
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return s.User(ctx, id)
}

// User returns one user. Users are read on every request, so they are
// cached until the next committed write.
func (s *Store) User(ctx context.Context, id int64) (*User, error) {
	gen := s.Generation()
	s.usersMu.Lock()
	if s.usersGen != gen {
		clear(s.users)
		s.usersGen = gen
	}
	u, ok := s.users[id]
	s.usersMu.Unlock()
	if ok {
		return &u, nil
	}
	got, err := scanUser(s.userByID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("user %d: %w", id, err)
	}
	s.usersMu.Lock()
	if s.usersGen == gen {
		s.users[id] = *got
	}
	s.usersMu.Unlock()
	return got, nil
}

// UserByEmail returns the user with that email (case-insensitive).
func (s *Store) UserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := scanUser(s.reader.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, strings.TrimSpace(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user by email: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("user by email: %w", err)
	}
	return u, nil
}

// Users lists all accounts, those waiting for a decision first.
func (s *Store) Users(ctx context.Context) ([]*User, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		ORDER BY state NOT IN ('registered', 'verified'), name COLLATE NOCASE, id`)
	if err != nil {
		return nil, fmt.Errorf("users: %w", err)
	}
	defer rows.Close()
	var us []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("users: %w", err)
		}
		us = append(us, u)
	}
	return us, rows.Err()
}

// HasAdmin reports whether any approved administrator exists; until one does,
// the server offers its one-time setup link.
func (s *Store) HasAdmin(ctx context.Context) (bool, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND state = 'approved'`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("has admin: %w", err)
	}
	return n > 0, nil
}

// dummyHash is checked when an email is unknown, so that a login for a
// missing account takes as long as one with a wrong password.
const dummyHash = "$argon2id$v=19$m=7168,t=5,p=1$c29tZXNhbHRzb21lc2FsdA$PjhmcBX6Zc6CD1e4O8pPvmMzRX8w2CgqsG+0dqGkK8I"

// Authenticate checks an email and password. Only approved accounts and
// those waiting for approval may log in; the caller decides what a waiting
// user sees.
func (s *Store) Authenticate(ctx context.Context, email, password string) (*User, error) {
	var id int64
	var hash, state string
	err := s.reader.QueryRowContext(ctx, `SELECT id, password_hash, state FROM users WHERE email = ?`,
		strings.TrimSpace(email)).Scan(&id, &hash, &state)
	if errors.Is(err, sql.ErrNoRows) {
		s.checkPassword(dummyHash, password)
		return nil, ErrBadCredentials
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if hash == "" {
		s.checkPassword(dummyHash, password)
		return nil, ErrBadCredentials
	}
	ok, err := s.checkPassword(hash, password)
	if err != nil {
		return nil, fmt.Errorf("authenticate user %d: %w", id, err)
	}
	if !ok || state == StateRejected || state == StateDisabled || state == StateInvited {
		return nil, ErrBadCredentials
	}
	return s.User(ctx, id)
}

// SetPassword replaces a user's password and ends all their sessions: after
// a lost phone, the new password must also lock out whoever has the phone.
// The caller renews the token of the session making the change to keep it.
func (s *Store) SetPassword(ctx context.Context, userID int64, password string) error {
	if err := newPasswordError(password); err != nil {
		return err
	}
	hash, err := s.HashPassword(password)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return s.updateUser(ctx, userID, revoking(ctx, userID), `password_hash = ?`, hash)
}

// UpdateProfile changes what a user may change about themselves. A new
// name must be free; an unchanged one is kept as it is, even one that
// would not pass today's rules (a language switch must not fail on it).
func (s *Store) UpdateProfile(ctx context.Context, userID int64, name, language string) error {
	cur, err := s.User(ctx, userID)
	if err != nil {
		return fmt.Errorf("update profile: %w", err)
	}
	var ps problems
	changed := strings.TrimSpace(name) != cur.Name
	if changed {
		validateName(&ps, &name)
	} else {
		name = cur.Name
	}
	validateLanguage(&ps, language)
	if err := ps.err(); err != nil {
		return err
	}
	var check func(*sql.Tx) error
	if changed {
		check = func(tx *sql.Tx) error { return checkNameFree(ctx, tx, name, userID) }
	}
	return s.updateUser(ctx, userID, check, `name = ?, language = ?`, name, language)
}

// SetUserState moves an account (approve, reject, disable, enable). Only
// administrators may, and not on themselves: an admin who disables their own
// account could lock the family out.
func (s *Store) SetUserState(ctx context.Context, actor *User, userID int64, state string) error {
	if !actor.IsAdmin() {
		return fmt.Errorf("set user state: %w", ErrForbidden)
	}
	if actor.ID == userID {
		return fmt.Errorf("set user state: not on yourself: %w", ErrConflict)
	}
	switch state {
	case StateApproved:
		return s.approveUser(ctx, actor, userID)
	case StateRejected, StateDisabled:
	default:
		return fmt.Errorf("set user state %q: %w", state, ErrInvalid)
	}
	return s.updateUser(ctx, userID, func(tx *sql.Tx) error { return stateChanged(ctx, tx, userID, state) }, `state = ?`, state)
}

// stateChanged does what goes with every change of an account's state, in
// its transaction. A rejected or disabled account is out at once, not on
// its next request; an approval keeps the waiting member's session. Every
// state change voids the account's links: an old invitation must not
// approve an account an administrator has disabled since.
func stateChanged(ctx context.Context, tx *sql.Tx, userID int64, state string) error {
	if state != StateApproved {
		if err := revokeSessions(ctx, tx, userID); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ?`, userID)
	return err
}

// SetUserRole makes a user a member or an administrator.
func (s *Store) SetUserRole(ctx context.Context, actor *User, userID int64, role string) error {
	if !actor.IsAdmin() {
		return fmt.Errorf("set user role: %w", ErrForbidden)
	}
	if actor.ID == userID {
		return fmt.Errorf("set user role: not on yourself: %w", ErrConflict)
	}
	if role != RoleMember && role != RoleAdmin {
		return fmt.Errorf("set user role %q: %w", role, ErrInvalid)
	}
	// Sessions carry the role they were made with: the user logs in anew.
	return s.updateUser(ctx, userID, revoking(ctx, userID), `role = ?`, role)
}

// updateUser changes one user; then, when the user exists, runs also in
// the same transaction.
func (s *Store) updateUser(ctx context.Context, userID int64, also func(*sql.Tx) error, set string, args ...any) error {
	args = append(args, timestamp(s.now()), userID)
	var n int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET `+set+`, updated_at = ? WHERE id = ?`, args...)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil || n == 0 || also == nil {
			return err
		}
		return also(tx)
	})
	if err != nil {
		return fmt.Errorf("update user %d: %w", userID, err)
	}
	if n == 0 {
		return fmt.Errorf("update user %d: %w", userID, ErrNotFound)
	}
	return nil
}

// revoking is updateUser's also for changes that end the user's sessions.
func revoking(ctx context.Context, userID int64) func(*sql.Tx) error {
	return func(tx *sql.Tx) error { return revokeSessions(ctx, tx, userID) }
}

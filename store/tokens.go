package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Purposes of one-time links and how long each lives.
const (
	PurposeSetup  = "setup"
	PurposeInvite = "invite"
	PurposeReset  = "reset"

	SetupTTL  = 24 * time.Hour
	InviteTTL = 14 * 24 * time.Hour
	ResetTTL  = 48 * time.Hour
)

// ErrTokenInvalid is returned for an unknown, used or expired link; the
// caller cannot tell which, and neither can someone guessing tokens.
var ErrTokenInvalid = errors.New("link is invalid or has expired")

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// newToken stores the hash of a fresh random token and returns the token.
func (s *Store) newToken(ctx context.Context, tx *sql.Tx, purpose string, userID int64, ttl time.Duration) (string, error) {
	token := rand.Text()
	var uid any
	if userID != 0 {
		uid = userID
	}
	now := s.now()
	_, err := tx.ExecContext(ctx, `INSERT INTO tokens (hash, purpose, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		hashToken(token), purpose, uid, timestamp(now), timestamp(now.Add(ttl)))
	return token, err
}

// tokenUser checks a token and returns the user it belongs to (0 for setup).
// An invitation is good only for an account still invited, a reset link
// not for a rejected or disabled one: a link must never undo an
// administrator's decision.
func (s *Store) tokenUser(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, token, purpose string) (int64, error) {
	var uid sql.NullInt64
	var expires string
	var state sql.NullString
	err := q.QueryRowContext(ctx, `SELECT t.user_id, t.expires_at, u.state FROM tokens t LEFT JOIN users u ON u.id = t.user_id
		WHERE t.hash = ? AND t.purpose = ?`, hashToken(token), purpose).Scan(&uid, &expires, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrTokenInvalid
	}
	if err != nil {
		return 0, err
	}
	if !s.now().Before(parseTimestamp(expires)) {
		return 0, ErrTokenInvalid
	}
	switch purpose {
	case PurposeInvite:
		if state.String != StateInvited {
			return 0, ErrTokenInvalid
		}
	case PurposeReset:
		if state.String == StateRejected || state.String == StateDisabled || state.String == StateInvited {
			return 0, ErrTokenInvalid
		}
	}
	return uid.Int64, nil
}

func deleteToken(ctx context.Context, tx *sql.Tx, token string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE hash = ?`, hashToken(token))
	return err
}

// NewSetupToken returns a fresh one-time link token for creating the first
// administrator, replacing any earlier one, or "" when an administrator
// already exists.
func (s *Store) NewSetupToken(ctx context.Context) (string, error) {
	var token string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var admins int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND state = 'approved'`).Scan(&admins); err != nil {
			return err
		}
		if admins > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE purpose = 'setup'`); err != nil {
			return err
		}
		var err error
		token, err = s.newToken(ctx, tx, PurposeSetup, 0, SetupTTL)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("new setup token: %w", err)
	}
	return token, nil
}

// CheckSetupToken tells whether a setup link is still good.
func (s *Store) CheckSetupToken(ctx context.Context, token string) error {
	_, err := s.tokenUser(ctx, s.reader, token, PurposeSetup)
	return err
}

// CompleteSetup creates the first administrator with a setup token. The
// token dies with it.
func (s *Store) CompleteSetup(ctx context.Context, token string, in NewUser) (*User, error) {
	in.Role, in.State = RoleAdmin, StateApproved
	ps := validateUser(&in)
	checkNewPassword(&ps, in.Password)
	if err := ps.err(); err != nil {
		return nil, err
	}
	hash, err := s.HashPassword(in.Password)
	if err != nil {
		return nil, fmt.Errorf("complete setup: %w", err)
	}
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		if _, err := s.tokenUser(ctx, tx, token, PurposeSetup); err != nil {
			return err
		}
		if err := checkNameFree(ctx, tx, in.Name, 0); err != nil {
			return err
		}
		now := timestamp(s.now())
		if err := tx.QueryRowContext(ctx, `INSERT INTO users (email, name, role, state, password_hash, language, created_at, updated_at)
			VALUES (?, ?, 'admin', 'approved', ?, ?, ?, ?) RETURNING id`, in.Email, in.Name, hash, in.Language, now, now).Scan(&id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE purpose = 'setup'`)
		return err
	})
	if isUniqueViolation(err) {
		return nil, &ValidationError{Problems: []Problem{{Field: "email", Key: KeyEmailTaken}}}
	}
	if err != nil {
		return nil, fmt.Errorf("complete setup: %w", err)
	}
	return s.User(ctx, id)
}

// Invite creates an invited account and returns the token of its link.
// Because an administrator invited them, the member is approved as soon as
// they choose a password.
func (s *Store) Invite(ctx context.Context, actor *User, in NewUser) (string, *User, error) {
	return s.invite(ctx, actor, in, false)
}

func (s *Store) invite(ctx context.Context, actor *User, in NewUser, byMail bool) (string, *User, error) {
	if !actor.IsAdmin() {
		return "", nil, fmt.Errorf("invite: %w", ErrForbidden)
	}
	in.State, in.Password = StateInvited, ""
	if err := validateUser(&in).err(); err != nil {
		return "", nil, err
	}
	var token string
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := checkNameFree(ctx, tx, in.Name, 0); err != nil {
			return err
		}
		now := timestamp(s.now())
		if err := tx.QueryRowContext(ctx, `INSERT INTO users (email, name, role, state, language, created_at, updated_at)
			VALUES (?, ?, ?, 'invited', ?, ?, ?) RETURNING id`, in.Email, in.Name, in.Role, in.Language, now, now).Scan(&id); err != nil {
			return err
		}
		var err error
		if token, err = s.newToken(ctx, tx, PurposeInvite, id, InviteTTL); err != nil || !byMail {
			return err
		}
		return s.queueInvitation(ctx, tx, actor, id, token, InviteTTL)
	})
	if isUniqueViolation(err) {
		return "", nil, &ValidationError{Problems: []Problem{{Field: "email", Key: KeyEmailTaken}}}
	}
	if err != nil {
		return "", nil, fmt.Errorf("invite: %w", err)
	}
	u, err := s.User(ctx, id)
	return token, u, err
}

// RenewInvitation makes a new link for an invited account that has not
// joined yet (the old link may have expired or got lost).
func (s *Store) RenewInvitation(ctx context.Context, actor *User, userID int64) (string, error) {
	return s.linkFor(ctx, actor, userID, PurposeInvite, InviteTTL, false)
}

// NewResetLink makes a password reset link for a member who forgot theirs.
func (s *Store) NewResetLink(ctx context.Context, actor *User, userID int64) (string, error) {
	return s.linkFor(ctx, actor, userID, PurposeReset, ResetTTL, false)
}

func (s *Store) linkFor(ctx context.Context, actor *User, userID int64, purpose string, ttl time.Duration, byMail bool) (string, error) {
	if !actor.IsAdmin() {
		return "", fmt.Errorf("%s link: %w", purpose, ErrForbidden)
	}
	var token string
	err := s.write(ctx, func(tx *sql.Tx) error {
		var state string
		err := tx.QueryRowContext(ctx, `SELECT state FROM users WHERE id = ?`, userID).Scan(&state)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if (purpose == PurposeInvite) != (state == StateInvited) {
			return ErrConflict
		}
		// One live link per user and purpose: a new one revokes the old.
		if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND purpose = ?`, userID, purpose); err != nil {
			return err
		}
		if token, err = s.newToken(ctx, tx, purpose, userID, ttl); err != nil || !byMail {
			return err
		}
		return s.queueInvitation(ctx, tx, actor, userID, token, ttl)
	})
	if err != nil {
		return "", fmt.Errorf("%s link for user %d: %w", purpose, userID, err)
	}
	return token, nil
}

// TokenUser returns the account a link belongs to, for showing its form.
func (s *Store) TokenUser(ctx context.Context, token, purpose string) (*User, error) {
	id, err := s.tokenUser(ctx, s.reader, token, purpose)
	if err != nil {
		return nil, err
	}
	return s.User(ctx, id)
}

// UseLink sets the password of the link's account and uses the link up. An
// invitation also approves the account; a reset keeps its state and ends
// every session of the account (whoever else was logged in is out).
func (s *Store) UseLink(ctx context.Context, token, purpose, password string) (*User, error) {
	if err := newPasswordError(password); err != nil {
		return nil, err
	}
	hash, err := s.HashPassword(password)
	if err != nil {
		return nil, fmt.Errorf("use link: %w", err)
	}
	var id int64
	err = s.write(ctx, func(tx *sql.Tx) error {
		id, err = s.tokenUser(ctx, tx, token, purpose)
		if err != nil {
			return err
		}
		set := `password_hash = ?`
		if purpose == PurposeInvite {
			set += `, state = 'approved'`
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET `+set+`, updated_at = ? WHERE id = ?`, hash, timestamp(s.now()), id); err != nil {
			return err
		}
		if err := revokeSessions(ctx, tx, id); err != nil {
			return err
		}
		if purpose == PurposeInvite {
			if err := s.queueMemberMail(ctx, tx, MailMemberJoined, id); err != nil {
				return err
			}
		}
		return deleteToken(ctx, tx, token)
	})
	if err != nil {
		return nil, fmt.Errorf("use %s link: %w", purpose, err)
	}
	return s.User(ctx, id)
}

// Register creates an account that waits for an administrator's approval,
// when self-registration is on and fewer than MaxWaitingAccounts wait
// (else ErrRegistrationsFull). For an email that has an account it returns
// ErrAccountExists, after the same work (the password is hashed either
// way), so that a caller can answer as for a new account: a registration
// form must not tell strangers who has an account. The account's owner is
// told by mail instead (at most once an hour), in the same transaction.
func (s *Store) Register(ctx context.Context, in NewUser) (*User, error) {
	if !s.Settings().SelfRegistration {
		return nil, fmt.Errorf("register: %w", ErrForbidden)
	}
	in.Role, in.State = RoleMember, StateRegistered
	ps := validateUser(&in)
	checkNewPassword(&ps, in.Password)
	if err := ps.err(); err != nil {
		return nil, err
	}
	u, err := s.createUser(ctx, in, func(tx *sql.Tx) error {
		var waiting int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE state IN ('registered', 'verified')`).Scan(&waiting); err != nil {
			return err
		}
		if waiting >= s.Settings().MaxWaitingAccounts {
			return ErrRegistrationsFull
		}
		return nil
	}, func(tx *sql.Tx, owner int64) error {
		return s.queueRegistrationAttempt(ctx, tx, owner)
	})
	// A taken email is never a problem shown to the stranger: alone it is
	// ErrAccountExists, beside others it is left out.
	var ve *ValidationError
	if errors.As(err, &ve) {
		var rest problems
		for _, p := range ve.Problems {
			if p.Key != KeyEmailTaken {
				rest = append(rest, p)
			}
		}
		if len(rest) == 0 {
			return nil, fmt.Errorf("register: %w", ErrAccountExists)
		}
		return nil, rest.err()
	}
	return u, err
}

// RegistrationOpen tells whether a registration could succeed now: on,
// and room among the accounts waiting for approval.
func (s *Store) RegistrationOpen(ctx context.Context) (bool, error) {
	if !s.Settings().SelfRegistration {
		return false, nil
	}
	var waiting int
	if err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE state IN ('registered', 'verified')`).Scan(&waiting); err != nil {
		return false, fmt.Errorf("registration open: %w", err)
	}
	return waiting < s.Settings().MaxWaitingAccounts, nil
}

// DeleteExpiredTokens removes links that can no longer be used.
func (s *Store) DeleteExpiredTokens(ctx context.Context) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE expires_at <= ?`, timestamp(s.now()))
		return err
	})
}

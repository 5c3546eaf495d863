package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// SessionStore keeps scs/v2 sessions in the sessions table. Lookups use the
// read-only pool so they never queue behind the single writer; only logins,
// logouts and changes of session data write.
type SessionStore struct {
	s   *Store
	opt SessionOptions

	// written remembers what was last stored per token, so that a commit
	// that changes nothing but the expiry, by less than opt.Refresh, is
	// skipped (see CommitCtx).
	mu      sync.Mutex
	written map[string]writtenSession
}

type writtenSession struct {
	data   []byte
	expiry time.Time
}

// SessionOptions is what the session store cannot know by itself.
type SessionOptions struct {
	// UserOf reads the user id out of a session's data (0 for none), so
	// that RevokeSessions can find a user's sessions.
	UserOf func(data []byte) int64
	// Refresh: with an idle timeout, scs commits every session on every
	// request to push its expiry. A commit whose data is what was stored
	// and whose expiry moves by less than Refresh is not written; the idle
	// timeout then counts from up to Refresh earlier. Without this, every
	// page view would be a write (and a replicated WAL frame).
	Refresh time.Duration
}

// Sessions returns a session store, e.g. for DeleteExpired.
func (s *Store) Sessions() *SessionStore { return s.SessionsWith(SessionOptions{}) }

// SessionsWith returns the session store for scs.
func (s *Store) SessionsWith(opt SessionOptions) *SessionStore {
	return &SessionStore{s: s, opt: opt, written: map[string]writtenSession{}}
}

const findSessionSQL = `SELECT data FROM sessions WHERE token = ? AND expiry > ? AND revoked = 0`

// tombstoneTTL is how long a revoked session's row stays: longer than any
// request runs.
const tombstoneTTL = 10 * time.Minute

// julian converts to the julian day number SQLite's julianday() uses, the
// layout of scs's own SQLite stores.
func julian(t time.Time) float64 { return float64(t.UnixNano())/86400e9 + 2440587.5 }

// FindCtx returns the data of a live session.
func (ss *SessionStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	// Real time, not the store's clock: scs sets expiries from time.Now.
	err := ss.s.findSession.QueryRowContext(ctx, token, julian(time.Now())).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("find session: %w", err)
	}
	return b, true, nil
}

// CommitCtx stores a session, unless it was revoked meanwhile: a request
// that loaded it before a password change must not bring it back.
func (ss *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if ss.unchanged(token, b, expiry) {
		return nil
	}
	var uid any
	if ss.opt.UserOf != nil {
		if id := ss.opt.UserOf(b); id != 0 {
			uid = id
		}
	}
	_, err := ss.s.writer.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry, user_id) VALUES (?, ?, ?, ?)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry, user_id = excluded.user_id
		WHERE revoked = 0`, token, b, julian(expiry), uid)
	if err != nil {
		return fmt.Errorf("commit session: %w", err)
	}
	ss.remember(token, b, expiry)
	return nil
}

// unchanged tells whether token was last stored with the same data and an
// expiry less than Refresh earlier.
func (ss *SessionStore) unchanged(token string, b []byte, expiry time.Time) bool {
	if ss.opt.Refresh <= 0 {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	w, ok := ss.written[token]
	return ok && bytes.Equal(w.data, b) && !expiry.Before(w.expiry) && expiry.Sub(w.expiry) < ss.opt.Refresh
}

func (ss *SessionStore) remember(token string, b []byte, expiry time.Time) {
	if ss.opt.Refresh <= 0 {
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.written) >= 10000 {
		now := time.Now()
		for k, w := range ss.written {
			if w.expiry.Before(now) {
				delete(ss.written, k)
			}
		}
		if len(ss.written) >= 10000 {
			clear(ss.written) // the next commits write; nothing is lost
		}
	}
	ss.written[token] = writtenSession{data: bytes.Clone(b), expiry: expiry}
}

// DeleteCtx ends a session (logout, a renewed token). Its row stays a
// few minutes as a tombstone, so a request of it still running cannot
// store it again.
func (ss *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	_, err := ss.s.writer.ExecContext(ctx, `UPDATE sessions SET data = x'', revoked = 1, expiry = min(expiry, ?)
		WHERE token = ?`, julian(time.Now().Add(tombstoneTTL)), token)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	ss.mu.Lock()
	delete(ss.written, token)
	ss.mu.Unlock()
	return nil
}

// The context-free methods satisfy scs.Store; scs prefers the Ctx ones.
func (ss *SessionStore) Find(token string) ([]byte, bool, error) {
	return ss.FindCtx(context.Background(), token)
}
func (ss *SessionStore) Commit(token string, b []byte, expiry time.Time) error {
	return ss.CommitCtx(context.Background(), token, b, expiry)
}
func (ss *SessionStore) Delete(token string) error { return ss.DeleteCtx(context.Background(), token) }

// DeleteExpired removes sessions past their expiry, tombstones included;
// run it now and then.
func (ss *SessionStore) DeleteExpired(ctx context.Context) error {
	_, err := ss.s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE expiry <= ?`, julian(time.Now()))
	return err
}

// revokeSessions ends every session of a user, in the transaction that
// changes what the sessions were based on (password, state, role).
func revokeSessions(ctx context.Context, tx *sql.Tx, userID int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE sessions SET data = x'', revoked = 1, expiry = min(expiry, ?)
		WHERE user_id = ? AND revoked = 0`, julian(time.Now().Add(tombstoneTTL)), userID)
	return err
}

// LiveSessions counts the sessions of a user that still let them in.
func (s *Store) LiveSessions(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.reader.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE user_id = ? AND revoked = 0 AND expiry > ?`,
		userID, julian(time.Now())).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("live sessions of user %d: %w", userID, err)
	}
	return n, nil
}

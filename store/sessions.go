package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SessionStore keeps scs/v2 sessions in the sessions table. Lookups use the
// read-only pool so they never queue behind the single writer; only logins,
// logouts and changes of session data write.
type SessionStore struct{ s *Store }

// Sessions returns the session store for scs.
func (s *Store) Sessions() *SessionStore { return &SessionStore{s} }

const findSessionSQL = `SELECT data FROM sessions WHERE token = ? AND expiry > ?`

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

// CommitCtx stores a session.
func (ss *SessionStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	_, err := ss.s.writer.ExecContext(ctx, `INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`, token, b, julian(expiry))
	if err != nil {
		return fmt.Errorf("commit session: %w", err)
	}
	return nil
}

// DeleteCtx removes a session.
func (ss *SessionStore) DeleteCtx(ctx context.Context, token string) error {
	if _, err := ss.s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE token = ?`, token); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
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

// DeleteExpired removes sessions past their expiry; run it now and then.
func (ss *SessionStore) DeleteExpired(ctx context.Context) error {
	_, err := ss.s.writer.ExecContext(ctx, `DELETE FROM sessions WHERE expiry <= ?`, julian(time.Now()))
	return err
}

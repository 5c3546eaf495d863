-- Sessions name their user, so that a password change or reset, a disabled
-- account or a new role ends every session of that user at once. A revoked
-- session stays a little while as a tombstone (revoked = 1, no data): a
-- request of that session still running cannot store it again.
--
-- The existing rows cannot be read in SQL (scs encodes them with gob), and
-- their tokens are stored in clear; the server now stores only a hash of
-- each token. They are deleted: everyone logs in once more.
DELETE FROM sessions;
ALTER TABLE sessions ADD COLUMN user_id INTEGER;
ALTER TABLE sessions ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1));
CREATE INDEX sessions_user ON sessions (user_id) WHERE user_id IS NOT NULL;

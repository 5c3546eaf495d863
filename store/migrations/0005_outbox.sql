-- Mail is written to the outbox in the same transaction as the change that
-- causes it, so a committed change always gets its mail and a rolled-back
-- one never does; a sender goroutine delivers it later and records the
-- outcome here. AUTOINCREMENT: an id is never handed out twice, not even
-- after the newest rows were deleted, so "send again" on an old page can
-- never hit another mail. message_id is the same for every attempt, so a
-- mail sent twice (a crash right after the server accepted it) is one mail
-- to the recipient's mail program.
-- (IF NOT EXISTS: a test that turns a database back to an older schema
-- version runs the later migrations again.)
CREATE TABLE IF NOT EXISTS outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT    NOT NULL,
    recipient_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    to_email     TEXT    NOT NULL,
    to_name      TEXT    NOT NULL DEFAULT '',
    booking_id   INTEGER REFERENCES bookings (id) ON DELETE CASCADE,
    -- What the mail says, as it was when the change was made (JSON). A link
    -- token in it is removed once the mail is sent.
    data         TEXT    NOT NULL DEFAULT '{}',
    status       TEXT    NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_at      TEXT    NOT NULL,
    last_error   TEXT    NOT NULL DEFAULT '',
    message_id   TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    sent_at      TEXT    NOT NULL DEFAULT ''
) STRICT;

-- The sender asks for what is due; the list shows the newest first.
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (next_at) WHERE status = 'queued';

-- Kinds of mail a member has turned off on their profile.
CREATE TABLE IF NOT EXISTS mail_optouts (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind    TEXT    NOT NULL,
    PRIMARY KEY (user_id, kind)
) STRICT, WITHOUT ROWID;

-- The secret of each member's calendar feeds. Unlike login links it is kept
-- as it is, because the profile shows the feed address again and again; it
-- opens no account, only the calendar, and "make a new link" replaces it.
CREATE TABLE IF NOT EXISTS feed_tokens (
    token      TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL
) STRICT, WITHOUT ROWID;

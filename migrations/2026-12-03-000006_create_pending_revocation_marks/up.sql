-- Revocation marks that must still reach Redis. The transaction that ends
-- sessions (or deletes a user) writes them here, so a Redis failure at that
-- moment cannot leave the tokens alive: the request that ended them deletes
-- the row once Redis has the mark, and otherwise any API instance writes
-- the mark later and then deletes the row.
CREATE TABLE pending_revocation_marks (
    -- 'session': every token of one login; 'user': every token of a
    -- deleted user.
    kind TEXT NOT NULL CHECK (kind IN ('session', 'user')),
    -- The session id, or the user id in decimal. No foreign key: a user's
    -- mark outlives the user, and a session's mark its purged row.
    subject TEXT NOT NULL CHECK (kind = 'session' OR subject ~ '^[0-9]{1,19}$'),
    -- A session's last refresh token's `exp`; NULL for a user.
    expires_at TIMESTAMPTZ,
    -- When the session was ended or the user deleted: no token issued
    -- later needs the mark. With `expires_at`, how long the mark lives.
    ended_at TIMESTAMPTZ NOT NULL,
    -- Until when one instance holds it to write it (see the replay).
    leased_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (kind, subject)
);

-- The replay takes the oldest first without sorting the table.
CREATE INDEX pending_revocation_marks_ended_idx ON pending_revocation_marks (ended_at);

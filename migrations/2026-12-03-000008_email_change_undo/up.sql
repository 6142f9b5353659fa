-- The session that asked for a pending email change (change_email only):
-- the confirmed change ends every other session of the user.
ALTER TABLE one_time_secrets ADD COLUMN session_id TEXT;

-- Undo links of email changes, sent to the address the account was
-- leaving. Not a row of one_time_secrets: that table keeps one live secret
-- per purpose and user, and a later request (by an intruder, say) must not
-- replace the owner's link. Only the token's SHA-256 is stored; there is
-- no code. A link outlives the confirmation: the owner needs it after an
-- intruder confirmed.
CREATE TABLE email_change_undos (
    token_hash BYTEA PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The address an undo puts back.
    old_email TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);

CREATE INDEX email_change_undos_user_idx ON email_change_undos (user_id, created_at);

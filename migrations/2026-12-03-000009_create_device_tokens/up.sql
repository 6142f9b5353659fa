-- Device tokens: every successful login hands one out, and a client that
-- sends it back with its next login is throttled only on its own failed
-- logins, so strangers failing against the account cannot lock its owner
-- out. Only the token's SHA-256 is stored; a user keeps at most 20 (the
-- most recently used), and a password reset deletes them all.
CREATE TABLE device_tokens (
    token_hash BYTEA PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL
);

-- Pruning a user's tokens to the most recently used, and deleting them all.
CREATE INDEX device_tokens_user_idx ON device_tokens (user_id, last_used_at DESC);

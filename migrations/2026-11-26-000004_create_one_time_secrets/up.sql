-- Whether the user proved it receives mail at its address. Accounts made
-- before verification existed start unverified, like new ones.
ALTER TABLE users ADD COLUMN email_verified BOOLEAN NOT NULL DEFAULT false;

-- One-time secrets sent by email: a token for a link and a 6-digit code for
-- people who type. Only their SHA-256 is stored. One live pair per purpose
-- and user: a new send replaces the previous one.
CREATE TABLE one_time_secrets (
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash BYTEA NOT NULL,
    -- SHA-256 of "<user id>:<code>", so equal codes of two users differ.
    code_hash BYTEA NOT NULL,
    -- The address an email change moves to (change_email only).
    new_email TEXT,
    -- Wrong codes entered; at 5 the code is dead (the link still works).
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    PRIMARY KEY (purpose, user_id)
);

-- A link names its secret by the token's hash alone.
CREATE UNIQUE INDEX one_time_secrets_token_idx ON one_time_secrets (token_hash);

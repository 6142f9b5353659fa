-- The second factor (TOTP), beside the users it protects.

-- A user's TOTP secret: at most one per user. A row with `enabled_at` NULL
-- is an enrolment waiting for its first code; a new enrolment replaces it.
CREATE TABLE totp_factors (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The secret is stored sealed only (AES-256-GCM under
    -- MFA_ENCRYPTION_KEY, the user bound in as associated data): `key_id`
    -- names the key that sealed it (never the key), so secrets sealed
    -- before a rotation still open with the previous key.
    key_id TEXT NOT NULL,
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    -- NULL while pending: a pending secret never guards a login.
    enabled_at TIMESTAMPTZ,
    -- The last 30-second step a code was accepted for: its code, and any
    -- earlier one, is never accepted again (a code seen over a shoulder
    -- or replayed is useless). Moved on by one conditional UPDATE, so of
    -- concurrent logins with one code exactly one gets through.
    last_step BIGINT
);

-- One-use recovery codes of a user with TOTP enabled. Only their digests
-- (SHA-256, salted with the user) are stored: a leaked table gives no code.
CREATE TABLE recovery_codes (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest BYTEA NOT NULL CHECK (octet_length(digest) = 32),
    created_at TIMESTAMPTZ NOT NULL,
    -- Set by the one atomic UPDATE that uses the code: of concurrent uses,
    -- one finds it NULL. Used codes are kept until the codes are replaced.
    used_at TIMESTAMPTZ,
    -- Also the index behind deleting a user's codes (and the cascade).
    PRIMARY KEY (user_id, digest)
);

-- A user's unused codes (counting what is left after a use, the status
-- page): only those rows, however many used ones a user has.
CREATE INDEX recovery_codes_unused_idx ON recovery_codes (user_id) WHERE used_at IS NULL;

-- Logins whose password was right, waiting for their second factor. The
-- `mfa_token` itself is never stored, only its SHA-256: a read of this
-- table completes no login.
CREATE TABLE mfa_challenges (
    digest BYTEA PRIMARY KEY CHECK (octet_length(digest) = 32),
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The user's `session_epoch` when the password was checked: a logout
    -- everywhere or a reset since then means the second step opens no
    -- session.
    session_epoch BIGINT NOT NULL,
    -- The client that logged in, stored as `sessions` stores it, for the
    -- session the second step opens.
    ip TEXT,
    -- The IPv4 /24 or IPv6 /64 of `ip`.
    network TEXT,
    user_agent TEXT,
    -- The digest of the recognised device token the password came with:
    -- its wrong second steps are throttled on that device's own count.
    known_device BYTEA CHECK (octet_length(known_device) = 32),
    -- Wrong codes so far: at 5 the challenge is dead (the login starts
    -- over with the password).
    failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);

-- A user's challenges (the cascade of a user deletion, and dropping the
-- user's expired ones when a new one opens).
CREATE INDEX mfa_challenges_user_idx ON mfa_challenges (user_id, expires_at);
-- Expired challenges, oldest first, for a purge.
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);

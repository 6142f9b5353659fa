-- Login sessions: one row per login, the truth behind the `sid` claim. Redis
-- keeps the fast revocation marks a token check reads; this table is what
-- `/refresh` consults, so a session revoked here stays dead even if Redis
-- loses its marks.
CREATE TABLE sessions (
    -- The `sid` claim: 32 hexadecimal digits.
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ NOT NULL,
    -- The current refresh token's `exp`.
    expires_at TIMESTAMPTZ NOT NULL,
    ip TEXT,
    -- The IPv4 /24 or IPv6 /64 of `ip`: how a known device is recognised.
    network TEXT,
    user_agent TEXT,
    -- The `gen` claim of the current refresh token, and when it took over.
    generation BIGINT NOT NULL DEFAULT 0 CHECK (generation >= 0),
    rotated_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

-- A user's sessions, newest first (listing, logout of all, new-device check).
CREATE INDEX sessions_user_idx ON sessions (user_id, created_at DESC);

-- Bumped whenever all of a user's sessions are ended (logout everywhere,
-- password reset). A login writes its session only if the counter still
-- has the value it read with the password hash, so a login that was in
-- flight at that moment cannot leave a live session behind.
ALTER TABLE users ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;

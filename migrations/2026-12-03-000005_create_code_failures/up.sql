-- Wrong codes per account and purpose, over every code the account is
-- sent: each code has 5 tries, but a new code every minute would otherwise
-- let a guesser go on forever. After 10 wrong codes, every code of that
-- account and purpose is refused until 24 h after the first of them (a
-- fixed window: `window_started_at` is the first failure). A new code
-- never resets the count. It lives here, beside the secrets, not in the
-- rate limiter: `RATE_LIMITS=off` must not switch it off.
CREATE TABLE code_failures (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- A one-time secret's purpose, or 'mfa' for second-factor codes.
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email', 'mfa')),
    failures INTEGER NOT NULL CHECK (failures > 0),
    window_started_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, purpose)
);

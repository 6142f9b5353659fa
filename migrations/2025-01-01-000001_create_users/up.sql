-- Accounts. `email` keeps the address as the user typed it (trimmed), for
-- display and delivery; `email_normalized` is the account's identity, written
-- by the application with the same function that normalises lookups
-- (domain::EmailAddress::normalize). A unique constraint on it, rather than on
-- lower(email), keeps uniqueness and lookups on one definition of "the same
-- address": PostgreSQL's lower() follows the server's locale and disagrees
-- with Rust's Unicode lowering on some non-ASCII letters.
CREATE TABLE users (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username TEXT NOT NULL,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Two registrations racing for one address: exactly one insert wins.
    CONSTRAINT users_email_normalized_key UNIQUE (email_normalized)
);

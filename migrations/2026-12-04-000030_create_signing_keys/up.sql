-- Asymmetric signing keys (ES256, EdDSA, RS256), shared by every instance.
-- The private key is stored only encrypted (AES-256-GCM under
-- SIGNING_KEYS_ENCRYPTION_KEY, the kid and algorithm bound in as
-- associated data); the public JWK is kept in clear so the JWKS is served
-- without opening any private key. Rows are never deleted: a revoked key
-- stays, so its kid is never reused.
CREATE SEQUENCE signing_key_changes;

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,64}$'),
    algorithm TEXT NOT NULL CHECK (algorithm IN ('ES256', 'EdDSA', 'RS256')),
    state TEXT NOT NULL CHECK (state IN ('standby', 'active', 'retired', 'revoked')),
    public_jwk TEXT NOT NULL,
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    activated_at TIMESTAMPTZ,
    retired_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    -- Taken from the sequence by every insert and update: the largest is
    -- the version instances poll to notice a change.
    changed_seq BIGINT NOT NULL DEFAULT nextval('signing_key_changes')
);

-- One key signs. Activating another retires the active one first, in the
-- same transaction; two instances making the first key of an install race
-- here, and one of them wins.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE state = 'active';

//! Diesel's view of the tables created by `migrations/`.

diesel::table! {
    users (id) {
        id -> Int8,
        username -> Text,
        email -> Text,
        email_normalized -> Text,
        password_hash -> Text,
        role -> Text,
        created_at -> Timestamptz,
        session_epoch -> Int8,
        email_verified -> Bool,
        banned_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    one_time_secrets (purpose, user_id) {
        purpose -> Text,
        user_id -> Int8,
        token_hash -> Bytea,
        code_hash -> Bytea,
        new_email -> Nullable<Text>,
        failed_attempts -> Int4,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        session_id -> Nullable<Text>,
    }
}

diesel::joinable!(one_time_secrets -> users (user_id));

diesel::table! {
    email_change_undos (token_hash) {
        token_hash -> Bytea,
        user_id -> Int8,
        old_email -> Text,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(email_change_undos -> users (user_id));

diesel::table! {
    code_failures (user_id, purpose) {
        user_id -> Int8,
        purpose -> Text,
        failures -> Int4,
        window_started_at -> Timestamptz,
    }
}

diesel::joinable!(code_failures -> users (user_id));

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Int8,
        created_at -> Timestamptz,
        last_used_at -> Timestamptz,
        expires_at -> Timestamptz,
        ip -> Nullable<Text>,
        network -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        generation -> Int8,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        auth_methods -> Text,
    }
}

diesel::joinable!(sessions -> users (user_id));

diesel::table! {
    email_outbox (id) {
        id -> Uuid,
        payload -> Text,
        created_at -> Timestamptz,
        leased_until -> Timestamptz,
    }
}

diesel::table! {
    pending_revocation_marks (kind, subject) {
        kind -> Text,
        subject -> Text,
        expires_at -> Nullable<Timestamptz>,
        ended_at -> Timestamptz,
        leased_until -> Timestamptz,
    }
}

diesel::table! {
    device_tokens (token_hash) {
        token_hash -> Bytea,
        user_id -> Int8,
        created_at -> Timestamptz,
        last_used_at -> Timestamptz,
    }
}

diesel::joinable!(device_tokens -> users (user_id));

diesel::table! {
    totp_factors (user_id) {
        user_id -> Int8,
        key_id -> Text,
        nonce -> Bytea,
        ciphertext -> Bytea,
        created_at -> Timestamptz,
        enabled_at -> Nullable<Timestamptz>,
        last_step -> Nullable<Int8>,
    }
}

diesel::joinable!(totp_factors -> users (user_id));

diesel::table! {
    recovery_codes (user_id, digest) {
        user_id -> Int8,
        digest -> Bytea,
        created_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(recovery_codes -> users (user_id));

diesel::table! {
    mfa_challenges (digest) {
        digest -> Bytea,
        user_id -> Int8,
        session_epoch -> Int8,
        ip -> Nullable<Text>,
        network -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        known_device -> Nullable<Bytea>,
        failures -> Int4,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(mfa_challenges -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    email_outbox,
    sessions,
    one_time_secrets,
    device_tokens,
    email_change_undos,
    code_failures,
    pending_revocation_marks,
    totp_factors,
    recovery_codes,
    mfa_challenges
);

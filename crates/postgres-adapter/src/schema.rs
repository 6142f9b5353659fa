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
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Uuid,
        payload -> Text,
        created_at -> Timestamptz,
        leased_until -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(users, email_outbox);

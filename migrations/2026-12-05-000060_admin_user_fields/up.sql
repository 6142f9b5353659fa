-- What the admin user search (GET /admin/users) shows and filters on.

-- A ban lasts until this time; NULL is "not banned", and an indefinite ban
-- is a far-future value, so "banned" is one comparison with now() and no
-- second column has to agree with the first.
ALTER TABLE users ADD COLUMN banned_until TIMESTAMPTZ;

-- The search matches the start of the address or the username,
-- case-insensitively, with LIKE 'prefix%'. text_pattern_ops lets such a
-- LIKE use a B-tree whatever the database's collation, so a prefix search
-- stays an index range scan at a million users. Addresses are matched on
-- `email_normalized` (already lower case, written by the application),
-- usernames on lower(username), the same expression the query uses.
CREATE INDEX users_email_prefix_idx ON users (email_normalized text_pattern_ops);
CREATE INDEX users_username_prefix_idx ON users (lower(username) text_pattern_ops);

-- The keyset order is the primary key (WHERE id > cursor ORDER BY id), and
-- the last sign-in is max(sessions.created_at) through sessions_user_idx:
-- neither needs an index of its own.

DROP INDEX users_username_prefix_idx;
DROP INDEX users_email_prefix_idx;
ALTER TABLE users DROP COLUMN banned_until;

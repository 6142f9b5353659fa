DROP INDEX email_outbox_created_idx;
CREATE INDEX email_outbox_lease_idx ON email_outbox (leased_until, created_at);
DROP INDEX one_time_secrets_used_idx;
DROP INDEX one_time_secrets_expires_idx;
DROP INDEX sessions_revoked_idx;
DROP INDEX sessions_expires_idx;
DROP INDEX sessions_live_user_idx;

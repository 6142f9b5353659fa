-- What keeps the tables from growing without bound stays cheap however
-- large they are: each statement below walks an index to the rows it
-- needs and stops there.

-- A user's live sessions (not ended; `revoked_at` is when a session was
-- ended), newest first: the session list reads them in this order, and
-- logging out everywhere and the cap on live sessions (which sorts its
-- hundred or so rows by last use) find them here. Ended sessions are left
-- out, so a user with 100,000 ended sessions costs what one with a
-- handful does (with `sessions_user_idx` alone the list walked them all:
-- 28 ms). `expires_at` is a key too, so that the "not expired" test is
-- checked in this index: otherwise, for a user the statistics think has
-- thousands of live sessions, the planner ANDed it with
-- `sessions_expires_idx` and read half of that index (112 ms at 3M rows).
CREATE INDEX sessions_live_user_idx ON sessions (user_id, created_at DESC, id DESC, expires_at) WHERE revoked_at IS NULL;

-- The purge: sessions expired, or ended, before the retention window.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- The purge: one-time secrets expired, or used, more than 7 days ago.
CREATE INDEX one_time_secrets_expires_idx ON one_time_secrets (expires_at);
CREATE INDEX one_time_secrets_used_idx ON one_time_secrets (used_at) WHERE used_at IS NOT NULL;

-- The relay takes the oldest available rows: an index in that order lets
-- it stop after a batch instead of sorting every available row (a backlog
-- of 200,000 rows) each round. Rows still leased are skipped by the
-- filter; there are at most a few batches of them.
DROP INDEX email_outbox_lease_idx;
CREATE INDEX email_outbox_created_idx ON email_outbox (created_at);

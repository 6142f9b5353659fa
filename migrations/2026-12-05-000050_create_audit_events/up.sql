-- The audit log (contract "v3: admin API and audit log"): one row per
-- event, written by the change it records (in the same transaction when
-- that change is one) and read newest first, a page at a time.
--
-- Partitioned by month of `at` so that AUDIT_RETENTION drops whole months
-- (a DROP TABLE: instant, no dead rows, no vacuum) instead of deleting
-- millions of rows. There is deliberately no DEFAULT partition: rows in it
-- would have to be moved out before a month could be made a partition,
-- and it could never be dropped by month. An event for a month without a
-- partition fails loudly instead (SQLSTATE 23514, "no partition of
-- relation"), and the store creates the month and retries once.
CREATE TABLE audit_events (
    -- Insertion order; only the tie-breaker of events with equal `at`
    -- (the page order and cursors are `(at, id)`).
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    -- When it happened (the request's time, not the insert's).
    at TIMESTAMPTZ NOT NULL,
    -- The contract's dotted names (domain::AuditEventKind): a typo in a
    -- writer is refused here rather than stored unreadable. Adding a kind
    -- means a migration that replaces this CHECK.
    type TEXT NOT NULL CONSTRAINT audit_events_type_known CHECK (type IN (
        'user.registered', 'user.login_succeeded', 'user.login_failed',
        'session.reuse_detected', 'session.revoked', 'user.logged_out',
        'user.password_reset_requested', 'user.password_reset',
        'user.password_changed', 'user.email_change_requested',
        'user.email_changed', 'user.email_change_undone', 'user.email_verified',
        'mfa.enabled', 'mfa.disabled', 'mfa.recovery_code_used', 'user.deleted',
        'admin.user_created', 'admin.user_updated', 'admin.user_banned',
        'admin.user_unbanned', 'admin.sessions_revoked', 'admin.mfa_reset',
        'keys.generated', 'keys.activated', 'keys.retired', 'keys.revoked'
    )),
    -- Who acted and whom it concerns. No foreign keys to `users`: the
    -- events of a deleted user outlive it (`user.deleted` among them), and
    -- a cascade or a SET NULL would rewrite history.
    actor_id BIGINT,
    subject_id BIGINT,
    -- The session the request came with, if any (no foreign key either:
    -- sessions are purged long before their events).
    session_id TEXT,
    -- The client's address as the API saw it (after trusted proxies) and
    -- its user agent, as sent.
    ip TEXT,
    user_agent TEXT,
    -- What else the kind carries (a failure's reason, a logout's scope,
    -- the fields an admin changed); never a password or an address in
    -- clear.
    data JSONB NOT NULL DEFAULT '{}',
    -- A partitioned table's keys must contain the partition key.
    PRIMARY KEY (at, id)
) PARTITION BY RANGE (at);

-- The primary key, read backwards, is the index of the unfiltered list
-- (`ORDER BY at DESC, id DESC`, keyset `(at, id) < cursor`): a second
-- index on (at DESC, id DESC) would only double the writes.

-- `GET /admin/audit?user_id=` and `GET /users/me/security-events`: one
-- user's events, newest first, read in index order and stopped after a
-- page.
CREATE INDEX audit_events_subject_idx ON audit_events (subject_id, at DESC, id DESC)
    WHERE subject_id IS NOT NULL;

-- `GET /admin/audit?type=`: one kind's events, newest first.
CREATE INDEX audit_events_type_idx ON audit_events (type, at DESC, id DESC);

-- This month's partition and the next two (UTC months), so that a fresh
-- install records events before anything else has run; the store's
-- `prepare_partitions` keeps two months ahead from then on. The names
-- (`audit_events_yYYYYmMM`) are what the purge reads a month from.
DO $$
DECLARE
    month DATE := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
BEGIN
    FOR i IN 0..2 LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
            'audit_events_y' || to_char(month, 'YYYY') || 'm' || to_char(month, 'MM'),
            to_char(month, 'YYYY-MM-DD') || ' 00:00:00+00',
            to_char((month + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00'
        );
        month := (month + interval '1 month')::date;
    END LOOP;
END
$$;

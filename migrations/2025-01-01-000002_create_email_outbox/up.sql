-- Transactional outbox: email jobs committed in the same transaction as the
-- data that caused them, until a relay has handed them to the queue.
CREATE TABLE email_outbox (
    -- The EmailJob id, kept for the job's whole life.
    id UUID PRIMARY KEY,
    -- EmailJob::to_json, stored verbatim.
    payload TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- A relay that leases a row hides it until then; '-infinity' means
    -- "never leased", so one comparison finds every available row.
    leased_until TIMESTAMPTZ NOT NULL DEFAULT '-infinity'
);

-- The lease query: available rows (leased_until <= now()), oldest first.
CREATE INDEX email_outbox_lease_idx ON email_outbox (leased_until, created_at);

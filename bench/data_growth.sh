#!/usr/bin/env bash
# Data at scale, one run on one machine: loads 1,000,000 users and
# 3,000,000 sessions (one user with 100,000 of them) into a fresh database
# with generate_series, then reports:
#   - deleting one user with its sessions and secrets (target < 10 ms);
#   - logging out everywhere a user with 100,000 sessions (100 live, as the
#     session cap leaves them; and all 100,000 live, data from before it);
#   - one purge batch (1,000 sessions) at 3M rows;
#   - relaying a 200,000-row outbox backlog with the real relay;
#   - EXPLAIN ANALYZE of the hot queries of login, refresh and token lookups.
#   bash bench/data_growth.sh                  # ~5 minutes plus the build
#   API_BIN=target/debug/api-server bash bench/data_growth.sh
# Writes bench/results/data_growth.md (OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

USERS=${USERS:-1000000}
SESSIONS=${SESSIONS:-3000000}
HEAVY=${HEAVY:-100000}
BACKLOG=${BACKLOG:-200000}
PORT=${PORT:-5097}
OUT=${OUT:-$root/bench/results/data_growth.md}

bash scripts/ensure-services.sh >/dev/null
if [[ -z "${API_BIN:-}" ]]; then
  echo "building the release api-server"
  cargo build --release --quiet --bin api-server
  API_BIN=$root/target/release/api-server
fi

run=benchdata$(date +%s)
work=$(mktemp -d)
api_pid=
cleanup() {
  [[ -n "$api_pid" ]] && kill "$api_pid" 2>/dev/null && wait "$api_pid" 2>/dev/null
  [[ -n "${KEEP:-}" ]] && echo "kept database $run" || \
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $run" >/dev/null 2>&1 || true
  redis-cli --scan --pattern "$run:*" | xargs -r redis-cli del >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

db_url="postgres://postgres@127.0.0.1:5432/$run"
api_env=(
  PATH="$PATH"
  DATABASE_URL="$db_url"
  REDIS_URL="redis://127.0.0.1:6379"
  REDIS_KEY_PREFIX="$run:"
  JWT_SECRET_KEY="benchmark-secret-0123456789abcdef0123456789"
  MFA_ENCRYPTION_KEY="YmVuY2htYXJrLW1mYS1rZXktMzItYnl0ZXMtbG9uZyE="
  RATE_LIMITS=off
  RUST_LOG=warn
  PORT="$PORT"
)
q() { psql -X -q -At -h 127.0.0.1 -U postgres -d "$run" -v ON_ERROR_STOP=1 "$@"; }
# Client-side time of one statement (autocommit: its commit included), ms.
timed() { q -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }
# Server-side execution time of a statement under EXPLAIN ANALYZE, rolled back.
explained() {
  q -c "BEGIN" -c "EXPLAIN (ANALYZE, BUFFERS) $1" -c "ROLLBACK" > "$work/plan.txt"
  sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p' "$work/plan.txt"
}
# The index the last plan uses (on sessions rather than the users row,
# when it uses both), or its top node.
plan_node() {
  local found
  found=$(grep -oE '(Index Only Scan|Index Scan)( Backward)? using [a-z_]+|Bitmap Index Scan on [a-z_]+' "$work/plan.txt" || true)
  found=$({ grep -v users_pkey <<<"$found"; echo "$found"; } | grep . | head -1 || true)
  if [[ -n "$found" ]]; then echo "$found"; else head -1 "$work/plan.txt" | sed 's/  (cost.*//'; fi
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rows=()
row() { # WHAT VALUE NOTE; a bare number is milliseconds
  local value=$2
  [[ "$value" =~ ^[0-9.]+$ ]] && value="$value ms"
  rows+=("| $1 | $value | $3 |")
  printf '%-60s %12s  %s\n' "$1" "$value" "$3"
}

echo "database $run: migrating"
(cd "$work" && env -i "${api_env[@]}" "$API_BIN" migrate >/dev/null)

echo "loading $USERS users, $SESSIONS sessions (one user with $HEAVY), secrets"
load_start=$(date +%s)
heavy_user=$USERS
spread=$((SESSIONS - HEAVY))
q <<SQL
INSERT INTO users (username, email, email_normalized, password_hash, email_verified, created_at)
SELECT 'user' || n, 'user' || n || '@example.io', 'user' || n || '@example.io',
       '\$argon2id\$v=19\$m=19456,t=2,p=1\$c2FsdHNhbHQ\$' || md5(n::text), true,
       now() - (n % 365) * interval '1 day'
FROM generate_series(1, $USERS) AS n;

-- Sessions of every age: a third live, the rest revoked at some point;
-- created over 90 days, each expiring 30 days after its last use.
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, network,
                      user_agent, generation, rotated_at, revoked_at)
SELECT md5('s' || n), 1 + (n::bigint * 7919) % ($USERS - 1),
       now() - (n % 90) * interval '1 day',
       now() - (n % 60) * interval '1 day',
       now() - (n % 60) * interval '1 day' + interval '30 days',
       '203.0.113.' || (n % 250), '203.0.113.0/24', 'Mozilla/5.0 (bench)', n % 5,
       CASE WHEN n % 5 > 0 THEN now() - (n % 60) * interval '1 day' END,
       CASE WHEN n % 3 > 0 THEN now() - (n % 80) * interval '1 day' END
FROM generate_series(1, $spread) AS n;

-- The heavy user: $HEAVY sessions, the 100 most recent live.
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at)
SELECT md5('h' || n), $heavy_user,
       now() - n * interval '1 minute', now() - n * interval '1 minute',
       now() + interval '30 days',
       CASE WHEN n > 100 THEN now() - n * interval '1 minute' END
FROM generate_series(1, $HEAVY) AS n;

-- One-time secrets for one user in three, half of them used.
INSERT INTO one_time_secrets (purpose, user_id, token_hash, code_hash, created_at, expires_at, used_at)
SELECT 'verify_email', n, decode(md5('t' || n), 'hex'), decode(md5('c' || n), 'hex'),
       now() - (n % 30) * interval '1 day', now() - (n % 30) * interval '1 day' + interval '1 day',
       CASE WHEN n % 2 = 0 THEN now() - (n % 30) * interval '1 day' END
FROM generate_series(1, $USERS, 3) AS n;

INSERT INTO device_tokens (token_hash, user_id, created_at, last_used_at)
SELECT decode(md5('d' || n), 'hex') || decode(md5('e' || n), 'hex'), n, now(), now()
FROM generate_series(1, $USERS, 2) AS n;

VACUUM ANALYZE;
SQL
load_secs=$(( $(date +%s) - load_start ))
counts=$(q -c "SELECT (SELECT count(*) FROM users) || ' users, ' || (SELECT count(*) FROM sessions) || ' sessions, ' || (SELECT count(*) FROM one_time_secrets) || ' secrets, ' || pg_size_pretty(pg_database_size(current_database()))")
echo "loaded in ${load_secs}s: $counts"

# --- Deleting a user (the repository's transaction: the delete, whose
# foreign keys cascade, and the user's revocation mark), 20 users. ---
times=()
for n in $(seq 1 20); do
  id=$(( (n * 48271) % (USERS - 2) + 1 ))
  times+=("$(timed "WITH gone AS (DELETE FROM users WHERE id = $id RETURNING id)
    INSERT INTO pending_revocation_marks (kind, subject, ended_at)
    SELECT 'user', id::text, now() FROM gone ON CONFLICT DO NOTHING")")
done
row "delete one user (median of 20, commit included)" \
  "$(printf '%s\n' "${times[@]}" | median)" "max $(printf '%s\n' "${times[@]}" | sort -g | tail -1) ms; target < 10 ms"
# What any one-row write costs here, commit (WAL flush) included: the floor
# under the figure above on this machine.
times=()
for n in $(seq 1 20); do
  times+=("$(timed "UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $((n * 3 + 7))")")
done
row "baseline: a one-row UPDATE (median of 20, commit included)" \
  "$(printf '%s\n' "${times[@]}" | median)" "the commit's WAL flush on this disk"
explained "DELETE FROM users WHERE id = 4242" >/dev/null
trigger_lines=$(grep -c '^Trigger for constraint' "$work/plan.txt" || true)
row "delete one user, server side (EXPLAIN ANALYZE)" "$(sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p' "$work/plan.txt")" "$trigger_lines cascades, each by an index"

# --- Logging out everywhere: the session store's statement (end_all). ---
end_all() { # USER
  cat <<SQL
WITH epoch AS (UPDATE users SET session_epoch = session_epoch + 1 WHERE id = $1),
ended AS (
  UPDATE sessions s SET revoked_at = now()
  WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
  RETURNING s.id, s.expires_at
), queued AS (
  INSERT INTO pending_revocation_marks AS p (kind, subject, expires_at, ended_at)
  SELECT 'session', id, expires_at, now() FROM ended
  ON CONFLICT (kind, subject) DO UPDATE SET ended_at = EXCLUDED.ended_at
) SELECT count(*) FROM ended
SQL
}
cold=$(explained "$(end_all "$heavy_user")")
ms=$(explained "$(end_all "$heavy_user")")
row "log out everywhere: $HEAVY sessions, 100 live" "$ms" "$(plan_node); first run, cache cold: $cold ms"
q -c "UPDATE sessions SET revoked_at = NULL WHERE user_id = $heavy_user" >/dev/null
q -c "VACUUM ANALYZE sessions" >/dev/null
ms=$(explained "$(end_all "$heavy_user")")
row "log out everywhere: $HEAVY sessions, all live (pre-cap data)" "$ms" "$(plan_node); $HEAVY rows and marks written"
q -c "UPDATE sessions SET revoked_at = now() - interval '1 hour' WHERE user_id = $heavy_user AND id NOT IN (SELECT id FROM sessions WHERE user_id = $heavy_user ORDER BY last_used_at DESC LIMIT 100)" >/dev/null
# Back to 100 live; the index entries of the row versions just replaced
# go, as autovacuum would take them.
q -c "VACUUM ANALYZE sessions" >/dev/null

# --- Hot queries. ---
u=123457
sid=$(q -c "SELECT id FROM sessions WHERE user_id = $u AND revoked_at IS NULL LIMIT 1")
[[ -z "$sid" ]] && sid=$(q -c "SELECT id FROM sessions WHERE revoked_at IS NULL LIMIT 1")
su=$(q -c "SELECT user_id FROM sessions WHERE id = '$sid'")
hot=(
  "login: credentials by email|SELECT id, username, email, role, email_verified, created_at, password_hash, session_epoch FROM users WHERE email_normalized = 'user$u@example.io'"
  "login: device token lookup|SELECT EXISTS (SELECT 1 FROM device_tokens WHERE token_hash = decode(md5('d$u'), 'hex') || decode(md5('e$u'), 'hex') AND user_id = $u)"
  "login: lock the user row|SELECT id FROM users WHERE id = $su AND session_epoch = 0 FOR NO KEY UPDATE"
  "login: known-device check|SELECT EXISTS (SELECT 1 FROM sessions WHERE user_id = $su AND last_used_at > now() - interval '90 days' AND user_agent IS NOT DISTINCT FROM 'Mozilla/5.0 (bench)' AND network IS NOT DISTINCT FROM '203.0.113.0/24')"
  "login: session cap (end beyond 100)|WITH target AS (SELECT id FROM sessions WHERE user_id = $heavy_user AND revoked_at IS NULL AND expires_at > now() ORDER BY id = 'x' DESC, last_used_at DESC, created_at DESC, id DESC OFFSET 100) UPDATE sessions s SET revoked_at = now() WHERE s.id = ANY(ARRAY(SELECT id FROM target)) AND s.revoked_at IS NULL"
  "refresh: session by id|SELECT * FROM sessions WHERE id = '$sid'"
  "refresh: rotate (compare-and-set)|UPDATE sessions SET generation = generation + 1, rotated_at = now(), last_used_at = now(), expires_at = now() + interval '30 days' WHERE id = '$sid' AND generation = (SELECT generation FROM sessions WHERE id = '$sid') AND revoked_at IS NULL"
  "sessions: list live (heavy user)|SELECT * FROM sessions WHERE user_id = $heavy_user AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC, id DESC LIMIT 500"
  "secrets: link by token hash|SELECT * FROM one_time_secrets WHERE token_hash = decode(md5('t1'), 'hex')"
  "purge: one batch of 1,000 sessions|DELETE FROM sessions WHERE ctid = ANY(ARRAY(SELECT ctid FROM ((SELECT ctid FROM sessions WHERE expires_at < now() - interval '30 days' LIMIT 1000) UNION (SELECT ctid FROM sessions WHERE revoked_at < now() - interval '30 days' LIMIT 1000)) AS old LIMIT 1000))"
  "purge: one batch of 1,000 secrets|DELETE FROM one_time_secrets WHERE ctid = ANY(ARRAY(SELECT ctid FROM ((SELECT ctid FROM one_time_secrets WHERE expires_at < now() - interval '7 days' LIMIT 1000) UNION (SELECT ctid FROM one_time_secrets WHERE used_at < now() - interval '7 days' LIMIT 1000)) AS old LIMIT 1000))"
)
for entry in "${hot[@]}"; do
  name=${entry%%|*}
  ms=$(explained "${entry#*|}")
  row "$name" "$ms" "$(plan_node)"
done
purgeable=$(q -c "SELECT count(*) FROM sessions WHERE expires_at < now() - interval '30 days' OR revoked_at < now() - interval '30 days'")
row "sessions the purge would delete" "-" "$purgeable of $SESSIONS"

# --- The relay: a backlog of BACKLOG jobs, drained by one API instance. ---
q <<SQL
INSERT INTO email_outbox (id, payload, created_at)
SELECT id, json_build_object('id', id, 'created_at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                             'kind', 'password_changed', 'to', 'user' || n || '@example.io',
                             'changed_at', '2026-12-04T00:00:00Z')::text, at
FROM (SELECT gen_random_uuid() AS id, n, now() - n * interval '1 ms' AS at
      FROM generate_series(1, $BACKLOG) AS n) AS jobs;
ANALYZE email_outbox;
SQL
lease="SELECT id FROM email_outbox WHERE leased_until <= now() ORDER BY created_at LIMIT 100 FOR UPDATE SKIP LOCKED"
ms=$(explained "$lease")
row "relay lease, $BACKLOG waiting" "$ms" "$(plan_node)"
ms=$(q -c "BEGIN" -c "DROP INDEX email_outbox_created_idx" \
  -c "CREATE INDEX email_outbox_lease_idx ON email_outbox (leased_until, created_at)" \
  -c "EXPLAIN (ANALYZE) $lease" -c "ROLLBACK" | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p')
row "relay lease, $BACKLOG waiting, former index" "$ms" "(leased_until, created_at): sorts every available row"

(cd "$work" && exec env -i "${api_env[@]}" "$API_BIN" serve >"$work/api.log" 2>&1) &
api_pid=$!
relay_start=$(date +%s.%N)
while :; do
  left=$(q -c "SELECT count(*) FROM email_outbox")
  [[ "$left" == 0 ]] && break
  kill -0 "$api_pid" 2>/dev/null || { echo "api-server stopped:"; tail "$work/api.log"; exit 1; }
  sleep 0.2
done
relay_secs=$(echo "$(date +%s.%N) - $relay_start" | bc)
stream=$(redis-cli xlen "${run}:{email}:jobs" 2>/dev/null || echo "?")
row "relay $BACKLOG jobs, one instance, from its start" "$(printf '%.1f s' "$relay_secs")" \
  "$(echo "$BACKLOG / $relay_secs" | bc) jobs/s; stream length $stream"

{
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%S): $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); ${API_BIN#"$root"/} at $(git rev-parse --short HEAD)."
  echo "Loaded in ${load_secs} s: $counts."
  echo
  echo "| what | time | note |"
  echo "|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$OUT"
echo "written to $OUT"

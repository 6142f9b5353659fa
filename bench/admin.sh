#!/usr/bin/env bash
# The admin API at scale, one run on one machine: loads USERS users and
# EVENTS audit events (spread over MONTHS monthly partitions) into a fresh
# database with generate_series, starts the release API on it, and reports
# the latency of one request at a time (wrk, 1 connection, p50 and p99):
#   - GET /admin/users?query=<prefix> for a prefix matching ~100 users, by
#     username and by email, then ~10,000 and ~100,000 users, and no query
#     (target: p50 < 5 ms for a prefix query at 1,000,000 users);
#   - GET /admin/audit?user_id= for a user with ~10 events and for one with
#     HEAVY events, and GET /users/me/security-events for the latter
#     (target: p50 < 5 ms at 10,000,000 events).
#   bash bench/admin.sh                      # ~10 minutes plus the build
#   USERS=100000 EVENTS=1000000 bash bench/admin.sh   # shorter
# Writes bench/results/admin.md (OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

USERS=${USERS:-1000000}
EVENTS=${EVENTS:-10000000}
MONTHS=${MONTHS:-12}
HEAVY=${HEAVY:-10000}
DURATION=${DURATION:-5}
PORT=${PORT:-5096}
OUT=${OUT:-$root/bench/results/admin.md}

bash scripts/ensure-services.sh >/dev/null
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi
if [[ -z "${API_BIN:-}" ]]; then
  echo "building the release api-server"
  CARGO_INCREMENTAL=0 cargo build --release --quiet --bin api-server
  API_BIN=$root/target/release/api-server
fi

run=benchadmin$(date +%s)
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

api_env=(
  PATH="$PATH"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$run"
  REDIS_URL="redis://127.0.0.1:6379"
  REDIS_KEY_PREFIX="$run:"
  JWT_ALGORITHM=HS256
  JWT_SECRET_KEY="benchmark-secret-0123456789abcdef0123456789"
  JWT_ACCESS_TOKEN_EXPIRES=3600
  MFA_ENCRYPTION_KEY="YmVuY2htYXJrLW1mYS1rZXktMzItYnl0ZXMtbG9uZyE="
  RATE_LIMITS=off
  RUST_LOG=warn
  PORT="$PORT"
)
base="http://127.0.0.1:$PORT"
q() { psql -X -q -At -h 127.0.0.1 -U postgres -d "$run" -v ON_ERROR_STOP=1 "$@"; }
rows=()
row() { # WHAT P50 P99 NOTE
  rows+=("| $1 | $2 | $3 | $4 |")
  printf '%-58s %8s %8s  %s\n' "$1" "$2" "$3" "$4"
}

echo "database $run: migrating"
(cd "$work" && env -i "${api_env[@]}" "$API_BIN" migrate >/dev/null)

echo "loading $USERS users and $EVENTS events over $MONTHS months"
load_start=$(date +%s)
# Usernames and addresses that do not share a prefix, so that a query
# matches by one or the other; every 7th user an admin, every 11th banned.
q <<SQL
INSERT INTO users (username, email, email_normalized, password_hash, role, email_verified,
                   created_at, banned_until)
SELECT 'user' || n, 'Person' || n || '@example.io', 'person' || n || '@example.io',
       '\$argon2id\$v=19\$m=19456,t=2,p=1\$c2FsdHNhbHQ\$' || md5(n::text),
       CASE WHEN n % 7 = 0 THEN 'admin' ELSE 'user' END, true,
       now() - (n % 365) * interval '1 day',
       CASE WHEN n % 11 = 0 THEN now() + interval '30 days' END
FROM generate_series(1, $USERS) AS n;
SQL
# The partitions of the months the events fall in (the migration made
# this month and the next two), named as the store names them.
q <<SQL
DO \$\$
DECLARE
    month DATE := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
BEGIN
    FOR i IN 1..$MONTHS - 1 LOOP
        month := (month - interval '1 month')::date;
        EXECUTE format(
            'CREATE TABLE IF NOT EXISTS %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
            'audit_events_y' || to_char(month, 'YYYY') || 'm' || to_char(month, 'MM'),
            to_char(month, 'YYYY-MM-DD') || ' 00:00:00+00',
            to_char((month + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00');
    END LOOP;
END
\$\$;
SQL
# Events of every kind a user sees, spread over the months and the users
# (about EVENTS / USERS each), a tenth of failed logins without a subject
# (unknown addresses), and HEAVY events for user 1.
spread=$((EVENTS - HEAVY))
q <<SQL
INSERT INTO audit_events (at, type, actor_id, subject_id, session_id, ip, user_agent, data)
SELECT now() - (n::bigint * 2654435761 % (($MONTHS - 1)::bigint * 28 * 86400)) * interval '1 second',
       (ARRAY['user.login_succeeded', 'user.login_failed', 'session.revoked', 'user.logged_out',
              'user.password_changed', 'mfa.enabled', 'user.email_verified'])[1 + n % 7],
       CASE WHEN n % 10 = 1 THEN NULL ELSE 2 + (n::bigint * 7919) % ($USERS - 1) END,
       CASE WHEN n % 10 = 1 THEN NULL ELSE 2 + (n::bigint * 7919) % ($USERS - 1) END,
       md5('s' || (n % 100000)), '203.0.113.' || (n % 250), 'Mozilla/5.0 (bench)',
       CASE WHEN n % 7 = 1 THEN '{"reason": "invalid_credentials"}'::jsonb ELSE '{}'::jsonb END
FROM generate_series(1, $spread) AS n;
INSERT INTO audit_events (at, type, actor_id, subject_id, session_id, ip, user_agent, data)
SELECT now() - n * interval '1 minute', 'user.login_succeeded', 1, 1, md5('h' || n),
       '198.51.100.7', 'Mozilla/5.0 (bench)', '{"amr": ["pwd"]}'::jsonb
FROM generate_series(1, $HEAVY) AS n;
VACUUM ANALYZE;
SQL
load_secs=$(( $(date +%s) - load_start ))
counts=$(q -c "SELECT (SELECT count(*) FROM users) || ' users, ' || (SELECT count(*) FROM audit_events) || ' events in ' || (SELECT count(*) FROM pg_inherits WHERE inhparent = 'audit_events'::regclass) || ' partitions, ' || pg_size_pretty(pg_database_size(current_database()))")
echo "loaded in ${load_secs}s: $counts"

echo "starting the API (release) on :$PORT"
(cd "$work" && exec env -i "${api_env[@]}" "$API_BIN" serve >"$work/api.log" 2>&1) &
api_pid=$!
for _ in $(seq 1 100); do
  curl -fs "$base/health/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
if ! kill -0 "$api_pid" 2>/dev/null || ! curl -fs "$base/health/ready" >/dev/null; then
  echo "error: the API did not start:" >&2
  cat "$work/api.log" >&2
  exit 1
fi

# User 1 is the admin who asks (and the heavy user): give it a password
# the API hashed, by registering a throwaway account and taking its hash.
password="bench-admin-password-1"
curl -fs -o /dev/null -H 'Content-Type: application/json' \
  -d "{\"username\":\"benchhash\",\"email\":\"benchhash@example.io\",\"password\":\"$password\"}" "$base/register"
q -c "UPDATE users SET role = 'admin', banned_until = NULL,
        password_hash = (SELECT password_hash FROM users WHERE username = 'benchhash')
      WHERE id = 1" >/dev/null
token=$(curl -fs -H 'Content-Type: application/json' \
  -d "{\"email\":\"person1@example.io\",\"password\":\"$password\"}" "$base/login" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# p50 and p99 (ms) of one connection asking PATH again and again.
latency() { # PATH -> "p50 p99 requests errors"
  BENCH_DIR=$root/bench TOKEN=$token wrk -t1 -c1 -d"${DURATION}s" -s "$root/bench/wrk/get.lua" "$base$1" |
    sed -n 's/^RESULT //p' |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print("%.2f %.2f %d %d" % (r["p50_ms"], r["p99_ms"], r["requests"], r["errors"]))'
}
# How many a query's first page holds, as a check that it asked what we think.
count_of() { # PATH KEY
  curl -fs -H "Authorization: Bearer $token" "$base$1" |
    python3 -c "import json,sys; b=json.load(sys.stdin); print(len(b['$2']), 'more' if b['next_cursor'] else 'last')"
}
measure() { # WHAT PATH KEY NOTE
  local page p50 p99 requests errors
  page=$(count_of "$2" "$3")
  read -r p50 p99 requests errors <<<"$(latency "$2")"
  row "$1" "$p50" "$p99" "$4; page: $page; $requests requests, $errors errors"
}

echo "measuring (1 connection, ${DURATION}s each)"
u=$((USERS / 1000000 * 123457 + USERS % 1000000 / 8))
measure "GET /admin/users?query=user$u (username prefix)" "/admin/users?query=user$u" users \
  "$(q -c "SELECT count(*) FROM users WHERE lower(username) LIKE 'user$u%'") matches"
measure "GET /admin/users?query=person$u (email prefix)" "/admin/users?query=person$u" users \
  "$(q -c "SELECT count(*) FROM users WHERE email_normalized LIKE 'person$u%'") matches"
measure "GET /admin/users?query=user12" "/admin/users?query=user12" users \
  "$(q -c "SELECT count(*) FROM users WHERE lower(username) LIKE 'user12%'") matches"
measure "GET /admin/users?query=user1" "/admin/users?query=user1" users \
  "$(q -c "SELECT count(*) FROM users WHERE lower(username) LIKE 'user1%'") matches"
measure "GET /admin/users?query=user1&role=admin&status=banned" "/admin/users?query=user1&role=admin&status=banned" users \
  "a filtered broad prefix"
measure "GET /admin/users (no query)" "/admin/users" users "the first 50 by id"

typical=$(q -c "SELECT subject_id FROM audit_events WHERE subject_id = $u LIMIT 1")
typical=${typical:-$u}
typical_count=$(q -c "SELECT count(*) FROM audit_events WHERE subject_id = $typical")
audit_status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/admin/audit?user_id=1")
if [[ "$audit_status" == 200 ]]; then
  measure "GET /admin/audit?user_id=$typical" "/admin/audit?user_id=$typical" events "$typical_count events of this user"
  measure "GET /admin/audit?user_id=1" "/admin/audit?user_id=1" events "$((HEAVY + 1))+ events of this user"
  measure "GET /admin/audit?type=user.password_changed" "/admin/audit?type=user.password_changed" events "one kind, all users"
  measure "GET /admin/audit (no filter)" "/admin/audit" events "newest first over every partition"
else
  row "GET /admin/audit" "-" "-" "not measured: the route answered $audit_status"
fi
measure "GET /users/me/security-events (user 1)" "/users/me/security-events" events "$((HEAVY + 1))+ events of this user"
load=$(cut -d' ' -f1-3 /proc/loadavg)

{
  echo "Run $(date -u +%Y-%m-%dT%H:%M:%S): $(nproc) cores, load average $load at the end; $counts" \
    "(loaded in ${load_secs}s); release build, HS256, loopback; wrk with 1 connection," \
    "${DURATION} s per row, the client on the same cores."
  echo
  echo "| request | p50 ms | p99 ms | note |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$OUT"
echo "wrote $OUT"

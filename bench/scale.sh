#!/usr/bin/env bash
# The data at scale, one run on one machine: 1,000,000 users, 3,000,000
# sessions (a third of them ended), 1,000,000 used one-time secrets and a
# 200,000-row email outbox in a fresh database, then, through the real
# release API server:
#   - relaying the 200,000-row outbox backlog to the email stream;
#   - deleting a user (DELETE /users/{id}, its secrets and sessions go too);
#   - logging out everywhere a user with 100,000 sessions of which 100 are
#     live (DELETE /users/{id}/sessions);
#   - the hot routes (login, refresh, /users/me, /users/me/sessions,
#     /protected) one request at a time, and EXPLAIN ANALYZE of the hot
#     queries, to show they stay index lookups at this size.
#   bash bench/scale.sh            # ~5 minutes plus the release build
#   USERS=100000 SESSIONS=300000 bash bench/scale.sh   # a smaller table
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

USERS=${USERS:-1000000}
SESSIONS=${SESSIONS:-3000000}
HEAVY_SESSIONS=${HEAVY_SESSIONS:-100000}   # sessions of the one heavy user
BACKLOG=${BACKLOG:-200000}                 # outbox rows waiting at start
SAMPLES=${SAMPLES:-200}                    # requests per hot route
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=${PORT:-$(free_port)}

bash scripts/ensure-services.sh >/dev/null
if [ -z "${SKIP_BUILD:-}" ]; then
  echo "building release binaries"
  cargo build --release --quiet --bin api-server
fi
bin=$root/target/release

run=benchscale$(date +%s)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $run" >/dev/null 2>&1 || true
  redis-cli --scan --pattern "$run:*" | xargs -r redis-cli del >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] && cp "$work/api.log" /tmp/scale-api.log; rm -rf "$work"
}
trap cleanup EXIT

common_env=(
  PATH="$PATH"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$run"
  REDIS_URL="redis://127.0.0.1:6379"
  REDIS_KEY_PREFIX="$run:"
  JWT_SECRET_KEY="benchmark-secret-0123456789abcdef0123456789"
  JWT_ACCESS_TOKEN_EXPIRES=3600
  NOTIFY_NEW_DEVICE_LOGIN=false
  RATE_LIMITS=off
  RUST_LOG=warn
)
sql() { psql -qtA -h 127.0.0.1 -U postgres -d "$run" -v ON_ERROR_STOP=1 "$@"; }
wait_http() {
  for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "error: $1 did not answer" >&2; exit 1
}
api=""
start_api() {
  (cd "$work" && exec env -i "${common_env[@]}" PORT="$PORT" "$bin/api-server" serve \
    >>"$work/api.log" 2>&1) &
  api=$!
  pids+=("$api")
  wait_http "http://127.0.0.1:$PORT/health/ready"
}
stop_api() { kill "$api"; wait "$api" 2>/dev/null || true; }

psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $run"
(cd "$work" && env -i "${common_env[@]}" "$bin/api-server" migrate >/dev/null)

# One real account gives the password hash every loaded user shares (so
# any of them can log in) and an outbox payload to copy.
password="benchmark password"
start_api
curl -fs -X POST "http://127.0.0.1:$PORT/register" -H 'Content-Type: application/json' \
  -d "{\"username\":\"template\",\"email\":\"template@example.com\",\"password\":\"$password\"}" >/dev/null
for _ in $(seq 1 50); do
  [ "$(sql -c "SELECT count(*) FROM email_outbox")" = 0 ] && break
  sleep 0.1
done
stop_api
redis-cli --scan --pattern "$run:*" | xargs -r redis-cli del >/dev/null

echo "loading $USERS users, $SESSIONS sessions, $USERS used secrets, $BACKLOG outbox rows"
started=$(date +%s)
sql -v users="$USERS" -v sessions="$SESSIONS" -v heavy="$HEAVY_SESSIONS" -v backlog="$BACKLOG" <<'SQL'
SET synchronous_commit = off;
-- Users u1..uN, all with the template's password.
INSERT INTO users (username, email, email_normalized, password_hash, email_verified, created_at)
SELECT 'user' || g, 'u' || g || '@example.com', 'u' || g || '@example.com', t.password_hash, true,
       now() - make_interval(secs => g)
FROM generate_series(1, :users - 1) g,
     (SELECT password_hash FROM users WHERE username = 'template') t;
-- Sessions spread over every user; one in three ended (revoked or
-- expired) at some point in the last 60 days.
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, network, user_agent,
                      generation, rotated_at, revoked_at)
SELECT md5('s' || g), u.first + (g % (:users - 1)),
       now() - make_interval(days => g % 60), now() - make_interval(mins => g % 5000),
       CASE WHEN g % 3 = 1 THEN now() - make_interval(days => g % 60) ELSE now() + interval '30 days' END,
       '192.0.2.' || (g % 250), '192.0.2.0/24', 'bench/1.0', g % 7, NULL,
       CASE WHEN g % 3 = 2 THEN now() - make_interval(days => g % 60) END
FROM generate_series(1, :sessions - :heavy) g,
     (SELECT min(id) AS first FROM users WHERE username <> 'template') u;
-- The heavy user: u1, with :heavy sessions of the last 30 days, of which
-- the newest 99 are live (the cap, MAX_SESSIONS_PER_USER, is 100; its
-- login makes the 100th): what a client that logs in all day leaves.
INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, network, user_agent,
                      revoked_at)
SELECT md5('heavy' || g), (SELECT id FROM users WHERE username = 'user1'),
       now() - make_interval(secs => g * 25), now() - make_interval(secs => g * 25),
       now() + interval '30 days', '198.51.100.7', '198.51.100.0/24', 'bench/1.0',
       CASE WHEN g > 99 THEN now() - make_interval(secs => g * 25 - 20) END
FROM generate_series(1, :heavy) g;
-- One used verification secret per user.
INSERT INTO one_time_secrets (purpose, user_id, token_hash, code_hash, created_at, expires_at, used_at)
SELECT 'verify_email', id, sha256(('t' || id)::bytea), sha256(('c' || id)::bytea),
       created_at, created_at + interval '1 day', created_at + interval '1 hour'
FROM users WHERE username <> 'template';
-- The backlog: :backlog welcome emails, as EmailJob::to_json writes them.
INSERT INTO email_outbox (id, payload, created_at)
SELECT j.id, json_build_object('id', j.id, 'created_at', to_char(j.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                               'kind', 'welcome', 'to', 'u' || j.g || '@example.com',
                               'verification_link', '', 'code', '')::text, j.at
FROM (SELECT g, gen_random_uuid() AS id, now() - make_interval(secs => g) AS at
      FROM generate_series(1, :backlog) g) j;
SQL
loaded=$(( $(date +%s) - started ))
echo "loaded in ${loaded} s; vacuum analyze"
sql -c "VACUUM ANALYZE"

echo "relaying the $BACKLOG-row outbox backlog"
started=$(date +%s.%N)
start_api
for _ in $(seq 1 3000); do
  [ "$(sql -c "SELECT count(*) FROM email_outbox")" = 0 ] && break
  sleep 0.2
done
relayed=$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$started")
left=$(sql -c "SELECT count(*) FROM email_outbox")

# EXPLAIN ANALYZE of the hot queries' shapes, at this size: ms of execution.
explain() { # SQL -> execution ms
  sql -c "EXPLAIN (ANALYZE, FORMAT JSON) $1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])'
}
u2=$(sql -c "SELECT id FROM users WHERE username = 'user2'")
sid=$(sql -c "SELECT id FROM sessions WHERE user_id = $u2 LIMIT 1")
queries=$(cat <<JSON
{"user by address (login)": $(explain "SELECT * FROM users WHERE email_normalized = 'u500000@example.com'"),
 "session by id (refresh)": $(explain "SELECT * FROM sessions WHERE id = '$sid'"),
 "live sessions of a user, newest first (listing)": $(explain "SELECT * FROM sessions WHERE user_id = $u2 AND revoked_at IS NULL AND expires_at > now() ORDER BY created_at DESC"),
 "one-time secrets of a user (user deletion)": $(explain "SELECT * FROM one_time_secrets WHERE user_id = $u2")}
JSON
)

echo "timing the routes one request at a time"
python3 - "http://127.0.0.1:$PORT" "$password" "$SAMPLES" "$relayed" "$left" "$BACKLOG" "$USERS" \
  "$(sql -c "SELECT count(*) FROM sessions")" "$loaded" "$queries" "$(cut -d' ' -f1-3 /proc/loadavg)" "$HEAVY_SESSIONS" \
  <<'PY' | tee "$root/bench/results/scale.md"
import datetime, http.client, json, statistics, sys, time, urllib.parse

base, password, samples = sys.argv[1], sys.argv[2], int(sys.argv[3])
relayed, left, backlog, users, sessions, loaded = sys.argv[4:10]
queries, load, heavy = json.loads(sys.argv[10]), sys.argv[11], int(sys.argv[12])
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port)

def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    started = time.perf_counter()
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = conn.getresponse()
    data = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status >= 300:
        raise Failed(f"{method} {path}: {response.status} after {elapsed:.0f} ms: {data[:120]!r}")
    return (json.loads(data) if data else None), elapsed

class Failed(Exception):
    pass

def login(n):
    tokens, ms = call("POST", "/login", {"email": f"u{n}@example.com", "password": password})
    return tokens, ms

def spread(values):
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return statistics.median(values), p99

rows = []
# Deleting users: each with its sessions and its used secret.
deletes = []
for n in range(1000, 1020):
    tokens, _ = login(n)
    me, _ = call("GET", "/users/me", token=tokens["access_token"])
    _, ms = call("DELETE", f"/users/{me['id']}", token=tokens["access_token"])
    deletes.append(ms)
p50, worst = statistics.median(deletes), max(deletes)
rows.append(("DELETE /users/{id} (a user, its sessions and secrets)", f"{p50:.2f}", f"{worst:.2f}",
             f"{len(deletes)} users, one at a time; max in the p99 column; target < 10 ms"))

# Logging out everywhere the user with the most sessions.
tokens, _ = login(1)
me, _ = call("GET", "/users/me", token=tokens["access_token"])
what = f"DELETE /users/{{id}}/sessions, a user with {heavy:,} sessions (100 live)"
try:
    answer, ms = call("DELETE", f"/users/{me['id']}/sessions", token=tokens["access_token"])
    rows.append((what, f"{ms:.1f}", "", f"ended {answer['revoked']} sessions in one request"))
except Failed as failure:
    rows.append((what, "failed", "", str(failure)))

# The hot routes.
tokens, _ = login(2)
access, refresh = tokens["access_token"], tokens["refresh_token"]
timings = {"POST /login": [], "POST /refresh": [], "GET /users/me": [],
           "GET /users/me/sessions": [], "GET /protected": []}
for i in range(samples):
    if i < samples // 4:
        timings["POST /login"].append(login(3 + i % 1000)[1])
    answer, ms = call("POST", "/refresh", token=refresh)
    timings["POST /refresh"].append(ms)
    refresh = answer.get("refresh_token", refresh)
    access = answer["access_token"]
    timings["GET /users/me"].append(call("GET", "/users/me", token=access)[1])
    timings["GET /users/me/sessions"].append(call("GET", "/users/me/sessions", token=access)[1])
    timings["GET /protected"].append(call("GET", "/protected", token=access)[1])
for route, values in timings.items():
    p50, p99 = spread(values)
    note = "one Argon2id hash each" if route == "POST /login" else ""
    rows.append((route, f"{p50:.2f}", f"{p99:.2f}", f"{len(values)} requests; {note}".rstrip("; ")))

print(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}: load average {load} at the end; "
      f"release build, loopback; {int(users):,} users, {int(sessions):,} sessions "
      f"(loaded in {loaded} s).\n")
print("| what | p50 ms | p99 ms | note |")
print("|---|---|---|---|")
for row in rows:
    print("| " + " | ".join(row) + " |")
print()
rate = int(backlog) / float(relayed) if float(relayed) else 0
print(f"Outbox relay: {int(backlog):,} rows relayed in {relayed} s ({rate:,.0f} rows/s, "
      f"from the server's start; {left} left).\n")
print("| query shape (EXPLAIN ANALYZE) | execution ms |")
print("|---|---|")
for name, ms in queries.items():
    print(f"| {name} | {ms:.3f} |")
PY

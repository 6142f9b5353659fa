#!/usr/bin/env bash
# What the rate limits cost, in one run: two release API servers
# on one database and Redis, one with limits on and one with RATE_LIMITS=off,
# loaded in turn (off, on, on, off, ...) so drift on a shared machine hits
# both alike. Prints one table (also bench/results/limits-latest.md).
#   bash bench/limits.sh                       # ~4.5 minutes on 2 cores
#   DURATION=3 ROUNDS=2 bash bench/limits.sh   # shorter, noisier
#
# - POST /login, 32 connections: throughput with limits on / off. Every
#   login is counted (one Lua script for the IP, one for the account, one
#   DEL on success); the IP limit is raised so nothing is refused and both
#   servers do the same work besides the limits.
# - POST /login, 1 connection: median latency on / off, i.e. the time the
#   limiter adds to one login (three Redis round trips) against one hash.
# - POST /login with `{}`, 32 connections: a 422 before any hash, so the
#   difference on / off is the machine time of one limit check (routing
#   and the answer cost the same); three such steps per login, against a
#   login's machine time, estimate the limiter's share of a login without
#   the hash rate's noise.
# - GET /protected, 32 connections: token checks never touch the limits,
#   so on / off must be the same within noise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export BENCH_DIR="$root/bench"

DURATION=${DURATION:-6}    # seconds per phase
ROUNDS=${ROUNDS:-5}        # off/on pairs per measure: short alternating
                           # phases average out other processes' load
CONNECTIONS=${CONNECTIONS:-32}
PORT_OFF=${PORT_OFF:-5095}
PORT_ON=${PORT_ON:-5096}

bash scripts/ensure-services.sh >/dev/null
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

echo "building the release API server"
cargo build --release --quiet --bin api-server
bin=$root/target/release

run=limits$(date +%s)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli --scan --pattern "$run:*" | xargs -r redis-cli del >/dev/null 2>&1 || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $run" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

common_env=(
  PATH="$PATH"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$run"
  REDIS_URL="redis://127.0.0.1:6379"
  REDIS_KEY_PREFIX="$run:"
  JWT_SECRET_KEY="benchmark-secret-0123456789abcdef0123456789"
  MFA_ENCRYPTION_KEY="YmVuY2htYXJrLW1mYS1rZXktMzItYnl0ZXMtbG9uZyE="
  JWT_ACCESS_TOKEN_EXPIRES=3600
  RUST_LOG=warn
)

wait_http() {
  for _ in $(seq 1 100); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: $1 did not answer" >&2
  exit 1
}

start_api() { # PORT VAR=VALUE...
  local port=$1
  shift
  (cd "$work" && exec env -i "${common_env[@]}" PORT="$port" "$@" "$bin/api-server" serve \
    >"$work/api-$port.log" 2>&1) &
  pids+=("$!")
  wait_http "http://127.0.0.1:$port/health/ready"
}

echo "starting two API servers (limits off on :$PORT_OFF, on on :$PORT_ON)"
(cd "$work" && env -i "${common_env[@]}" "$bin/api-server" migrate >/dev/null 2>&1)
start_api "$PORT_OFF" RATE_LIMITS=off
# Limits on, the IP limit out of reach: every login pays for counting,
# none is refused (a refusal would skip the hash and flatter the figure).
start_api "$PORT_ON" RATE_LIMITS=on RATE_LIMIT_LOGIN_PER_IP=1000000/60s

# Logins cycle through many accounts, as real traffic does: with limits on
# an account admits at most 5 password checks at once (each counts as a
# failure until it succeeds), so 32 connections on one account would be
# refused, not measured.
export BENCH_ACCOUNTS=${ACCOUNTS:-64} BENCH_EMAIL_PREFIX="$run-" BENCH_PASSWORD="benchmark password"
echo "registering $BENCH_ACCOUNTS accounts"
for n in $(seq 0 $((BENCH_ACCOUNTS - 1))); do
  curl -fs -X POST "http://127.0.0.1:$PORT_OFF/register" -H 'Content-Type: application/json' \
    -d "{\"username\":\"limits-$n\",\"email\":\"$BENCH_EMAIL_PREFIX$n@example.com\",\"password\":\"$BENCH_PASSWORD\"}" >/dev/null
done
export TOKEN
TOKEN=$(curl -fs -X POST "http://127.0.0.1:$PORT_OFF/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"${BENCH_EMAIL_PREFIX}0@example.com\",\"password\":\"$BENCH_PASSWORD\"}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# phase PORT SCRIPT PATH CONNECTIONS -> the RESULT json line
phase() {
  local threads=2
  [ "$4" -eq 1 ] && threads=1
  wrk -t"$threads" -c"$4" -d"${DURATION}s" --latency -s "$BENCH_DIR/wrk/$2" \
    "http://127.0.0.1:$1$3" | sed -n 's/^RESULT //p'
}

results=$work/results.jsonl
: >"$results"
measure() { # NAME SCRIPT PATH CONNECTIONS
  for round in $(seq 1 "$ROUNDS"); do
    # off-on, then on-off (ABBA): neither server always goes first.
    local modes="off on"
    [ $((round % 2)) -eq 0 ] && modes="on off"
    for mode in $modes; do
      local port=$PORT_OFF
      [ "$mode" = on ] && port=$PORT_ON
      echo "load: $1, limits $mode (round $round/$ROUNDS)"
      local line
      line=$(phase "$port" "$2" "$3" "$4")
      python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(name=sys.argv[2], mode=sys.argv[3]); print(json.dumps(r))' \
        "$line" "$1" "$mode" >>"$results"
    done
  done
}

# Counters left by one measure must not weigh on the next (the 422 flood
# leaves one very long log for 127.0.0.1): start each from an empty Redis.
forget_counters() { redis-cli --scan --pattern "$run:ratelimit:*" | xargs -r redis-cli del >/dev/null; }
measure protected get.lua /protected "$CONNECTIONS"
forget_counters
measure login login_accounts.lua /login "$CONNECTIONS"
forget_counters
measure login_1 login_accounts.lua /login 1
forget_counters
measure check login_empty.lua /login "$CONNECTIONS"

keys=$(redis-cli --scan --pattern "$run:ratelimit:*" | wc -l)
forget_counters
# Each switch to the in-memory counters logs one warning: there should be none.
fallbacks=$(cat "$work"/api-*.log | grep -c "shared store failed" || true)
load=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$results" "$load" "$DURATION" "$ROUNDS" "$CONNECTIONS" "$keys" "$fallbacks" <<'PY' | tee "$root/bench/results/limits-latest.md"
import datetime, json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
load, duration, rounds, conns, keys, fallbacks = sys.argv[2:8]
def pick(name, mode, field):
    return [r[field] for r in rows if r["name"] == name and r["mode"] == mode]
def errors(name, mode):
    return sum(pick(name, mode, "errors"))
print(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}: load average {load} "
      f"at the end; {rounds} off/on pairs of {duration} s per measure, alternating; "
      f"release builds, loopback, Redis and wrk on the same 2 cores.\n")
# Each on phase is compared with the off phase of its round (before it,
# then after it: ABBA); the median of those ratios resists the load other
# processes put on the machine.
def pair_ratio(name, field):
    return statistics.median(b / a for a, b in zip(pick(name, "off", field), pick(name, "on", field)))
print("| measure | limits off | limits on | on / off (median of pairs) | errors off / on |")
print("|---|---|---|---|---|")
for name, label, field in [("login", f"POST /login, {conns} connections, requests/s", "rps"),
                           ("check", f"POST /login with {{}} (422, no hash), {conns} connections, requests/s", "rps"),
                           ("protected", f"GET /protected, {conns} connections, requests/s", "rps"),
                           ("login_1", "POST /login, 1 connection, median latency ms", "p50_ms")]:
    off, on = statistics.median(pick(name, "off", field)), statistics.median(pick(name, "on", field))
    print(f"| {label} | {off:.2f} | {on:.2f} | {pair_ratio(name, field):.3f} "
          f"| {errors(name, 'off')} / {errors(name, 'on')} |")
off = statistics.median(pick("login_1", "off", "p50_ms"))
on = statistics.median(pick("login_1", "on", "p50_ms"))
print()
for name, field in [("login", "rps"), ("check", "rps"), ("protected", "rps"), ("login_1", "p50_ms")]:
    pairs = ", ".join(f"{a:.1f}→{b:.1f}" for a, b in zip(pick(name, "off", field), pick(name, "on", field)))
    print(f"- {name} {field}, off → on per pair: {pairs}")
print(f"\nLimiter time per login, 1 connection (medians): {on - off:+.2f} ms of {off:.2f} ms; "
      f"rate limit keys in Redis after the 422 flood: {keys}; switches to the in-memory "
      f"fallback: {fallbacks}.")
# Machine time (all cores) per request is 1 / throughput.
check_off = statistics.median(pick("check", "off", "rps"))
check_on = statistics.median(pick("check", "on", "rps"))
step_us = (1 / check_on - 1 / check_off) * 1e6
login_us = 1e6 / statistics.median(pick("login", "off", "rps"))
print(f"Machine time of one limit step (EVALSHA round trip, Redis included): {step_us:.0f} µs; "
      f"a login takes three (IP, account, clear on success): {3 * step_us:.0f} µs "
      f"= {3 * step_us / login_us:.2%} of a login's {login_us / 1000:.1f} ms (target < 2%).")
PY

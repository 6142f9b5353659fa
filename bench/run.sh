#!/usr/bin/env bash
# Measures the service against its own limits on this machine, in one run,
# and prints one table (also written to bench/results/latest.md).
#   bash bench/run.sh            # ~4 minutes on 2 cores
#   DURATION=5 bash bench/run.sh # shorter load phases
#   ONLY_TOKENS=1 bash bench/run.sh  # token checks only: /guest, /protected
#                                    # (cache on and off), cross-instance
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export BENCH_DIR="$root/bench"

DURATION=${DURATION:-10}     # seconds per load phase
CONNECTIONS=${CONNECTIONS:-32}
EMAILS=${EMAILS:-10000}      # jobs per worker throughput run (bench/worker.sh)
API_PORT=${API_PORT:-5091}
MAILGUN_PORT=${MAILGUN_PORT:-5092}
# Other scripts run on this machine too: these take whatever port is free.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
METRICS_PORT=${METRICS_PORT:-$(free_port)}
SECOND_PORT=${SECOND_PORT:-$(free_port)}   # a second API instance (cross-instance rounds)
NOCACHE_PORT=${NOCACHE_PORT:-$(free_port)} # an instance with REVOCATION_CACHE_SIZE=0
ROUNDS=${ROUNDS:-100}              # cross-instance logout rounds
ONLY_TOKENS=${ONLY_TOKENS:-}

bash scripts/ensure-services.sh >/dev/null
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

echo "building release binaries"
cargo build --release --quiet --bin api-server --bin email-worker \
  --bin hash_rate --bin fake_mailgun --bin enqueue --bin auth_cost
bin=$root/target/release

run=bench$(date +%s)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
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
  RATE_LIMITS=off
)

peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

wait_http() {
  for _ in $(seq 1 100); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: $1 did not answer" >&2
  exit 1
}

# wrk_json SCRIPT PATH [connections] -> the RESULT json line
wrk_json() {
  local script=$1 path=$2 conns=${3:-$CONNECTIONS}
  wrk -t2 -c"$conns" -d"${DURATION}s" --latency -s "$BENCH_DIR/wrk/$script" \
    "http://127.0.0.1:$API_PORT$path" | sed -n 's/^RESULT //p'
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# start_api PORT NAME [VAR=VALUE...] -> its pid in $started_pid
start_api() {
  local port=$1 name=$2
  shift 2
  (cd "$work" && exec env -i "${common_env[@]}" PORT="$port" "$@" "$bin/api-server" serve \
    >"$work/$name.log" 2>&1) &
  started_pid=$!
  pids+=("$started_pid")
  wait_http "http://127.0.0.1:$port/health/ready"
  # Whatever answered must be the one just started.
  if ! kill -0 "$started_pid" 2>/dev/null; then
    echo "error: the API on port $port exited:" >&2
    cat "$work/$name.log" >&2
    exit 1
  fi
}

echo "starting the API (release)"
(cd "$work" && env -i "${common_env[@]}" "$bin/api-server" migrate >/dev/null 2>&1)
start_api "$API_PORT" api METRICS_ADDR="127.0.0.1:$METRICS_PORT"
api_pid=$started_pid

export BENCH_EMAIL="bench@example.com" BENCH_PASSWORD="benchmark password" BENCH_RUN=$run
curl -fs -X POST "http://127.0.0.1:$API_PORT/register" -H 'Content-Type: application/json' \
  -d "{\"username\":\"bench\",\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" >/dev/null
export TOKEN
TOKEN=$(curl -fs -X POST "http://127.0.0.1:$API_PORT/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

# metric NAME -> its value on the API's metrics listener
metric() {
  curl -fs "http://127.0.0.1:$METRICS_PORT/metrics" | awk -v name="$1" '$1 == name {print $2}'
}

echo "load: GET /guest"
guest=$(TOKEN="" wrk_json get.lua /guest)
echo "load: GET /protected"
hits_before=$(metric revocation_cache_hits_total)
misses_before=$(metric revocation_cache_misses_total)
protected=$(wrk_json get.lua /protected)
hits=$(( $(metric revocation_cache_hits_total) - hits_before ))
misses=$(( $(metric revocation_cache_misses_total) - misses_before ))

echo "load: GET /protected, revocation cache off (another instance)"
start_api "$NOCACHE_PORT" nocache REVOCATION_CACHE_SIZE=0
nocache_pid=$started_pid
uncached=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$BENCH_DIR/wrk/get.lua" \
  "http://127.0.0.1:$NOCACHE_PORT/protected" | sed -n 's/^RESULT //p')
kill "$nocache_pid"; wait "$nocache_pid" 2>/dev/null || true

echo "cross-instance: $ROUNDS rounds of (use at B, logout at A, use at B at once)"
start_api "$SECOND_PORT" second
second_pid=$started_pid
cross=$(python3 - "http://127.0.0.1:$API_PORT" "http://127.0.0.1:$SECOND_PORT" "$ROUNDS" <<'PY'
import json, sys, urllib.request, urllib.error
a, b, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
def call(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None
import os
stale = warm = 0
for _ in range(rounds):
    _, tokens = call("POST", f"{a}/login", body={"email": os.environ["BENCH_EMAIL"], "password": os.environ["BENCH_PASSWORD"]})
    for _ in range(2):  # the second is answered from B's cache
        warm += call("GET", f"{b}/protected", tokens["access_token"])[0] == 200
    assert call("POST", f"{a}/logout", tokens["refresh_token"])[0] == 200
    stale += call("GET", f"{b}/protected", tokens["access_token"])[0] == 200
print(json.dumps({"rounds": rounds, "stale": stale, "warm": warm}))
PY
)
kill "$second_pid"; wait "$second_pid" 2>/dev/null || true

echo "cost of a token check, one thread"
costs=$("$bin/auth_cost" redis://127.0.0.1:6379)
cost() { sed -n "s/^$1=//p" <<<"$costs"; }

if [ -n "$ONLY_TOKENS" ]; then
  login='{}' register='{}' flooded='{}'
else
echo "load: POST /login"
login=$(wrk_json login.lua /login)
echo "load: POST /register"
register=$(wrk_json register.lua /register)

echo "load: GET /protected during a /login flood"
wrk -t1 -c"$CONNECTIONS" -d"$((DURATION + 2))s" -s "$BENCH_DIR/wrk/login.lua" \
  "http://127.0.0.1:$API_PORT/login" >/dev/null &
flood=$!
sleep 1
flooded=$(wrk -t1 -c8 -d"${DURATION}s" --latency -s "$BENCH_DIR/wrk/get.lua" \
  "http://127.0.0.1:$API_PORT/protected" | sed -n 's/^RESULT //p')
wait "$flood" || true
fi
api_peak=$(peak_kib "$api_pid")
kill "$api_pid"; wait "$api_pid" 2>/dev/null || true

if [ -n "$ONLY_TOKENS" ]; then
  hash_single=0 hash_all=0 cores=$(nproc) workers=
else
echo "raw Argon2id hash rate"
hashes=$("$bin/hash_rate" "$((DURATION / 2 > 2 ? DURATION / 2 : 2))")
hash_single=$(sed -n 's/^hash_rate_single=//p' <<<"$hashes")
hash_all=$(sed -n 's/^hash_rate_all=//p' <<<"$hashes")
cores=$(sed -n 's/^cores=//p' <<<"$hashes")

echo "worker: 256 slots, fake Mailgun answering after 100 ms and at once"
workers=$(SKIP_BUILD=1 SLOTS="256" DELAYS="100 0" EMAILS="$EMAILS" MAILGUN_PORT="$MAILGUN_PORT" \
  bash bench/worker.sh | sed -n 's/^worker //p')
redis-cli --scan --pattern "$run:*" | xargs -r redis-cli del >/dev/null
fi

load=$(cut -d' ' -f1-3 /proc/loadavg)
results="$root/bench/results/latest.md"
[ -n "$ONLY_TOKENS" ] && results=/dev/null # a partial run keeps latest.md as it is
python3 - "$guest" "$protected" "$login" "$register" "$flooded" \
  "$hash_single" "$hash_all" "$cores" "$workers" "" \
  "$api_peak" 0 0 "$load" "$DURATION" "$CONNECTIONS" "$EMAILS" \
  "$uncached" "$cross" "$hits" "$misses" "$ONLY_TOKENS" \
  "$(cost jwt_decode_us)" "$(cost jwt_decode_jsonwebtoken_us)" \
  "$(cost revocation_check_cached_us)" "$(cost revocation_check_round_trip_us)" \
  "$(cost jwt_decode_remembered_us)" <<'PY' | tee "$results"
import json, sys, datetime
(guest, protected, login, register, flooded) = (json.loads(a) for a in sys.argv[1:6])
hash_single, hash_all = float(sys.argv[6]), float(sys.argv[7])
cores = sys.argv[8]
# "slots=256 delay_ms=100 emails=... seconds=... emails_per_s=... peak_kib=..." per line
workers = [dict(kv.split("=") for kv in line.split()) for line in sys.argv[9].splitlines() if line]
api_peak = int(sys.argv[11])
w_peak = max((int(w["peak_kib"]) for w in workers), default=0)
load, duration, conns, emails = sys.argv[14], sys.argv[15], sys.argv[16], sys.argv[17]
uncached, cross = json.loads(sys.argv[18]), json.loads(sys.argv[19])
hits, misses, only_tokens = int(sys.argv[20]), int(sys.argv[21]), bool(sys.argv[22])
decode, decode_jwt, check_hit, check_trip, decode_memo = (float(a) for a in sys.argv[23:28])
mib = lambda kib: f"{kib / 1024:.1f} MiB"
def row(name, r, note=""):
    errors = f" ({r['errors']} errors)" if r["errors"] else ""
    return f"| {name} | {r['rps']:.0f}{errors} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {note} |"
print(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}: {cores} cores, "
      f"load average {load} at the end; {duration} s per phase, {conns} connections, "
      f"release builds, loopback{'; token checks only (ONLY_TOKENS)' if only_tokens else ''}.\n")
print("| path | requests/s | p50 ms | p99 ms | note |")
print("|---|---|---|---|---|")
print(row("GET /guest", guest))
share = lambda r: r["rps"] / guest["rps"] if guest["rps"] else 0
rate = hits / (hits + misses) if hits + misses else 0
print(row("GET /protected", protected,
          f"{share(protected):.0%} of /guest (target >= 80%); cache hit rate {rate:.2%}"))
print(row("GET /protected, cache off", uncached,
          f"{share(uncached):.0%} of /guest; REVOCATION_CACHE_SIZE=0, one MGET per check"))
if not only_tokens:
    login_share = login["rps"] / hash_all if hash_all else 0
    print(row("POST /login", login, f"{login_share:.0%} of the all-core hash rate (target >= 85%)"))
    print(row("POST /register", register, "unique emails; one hash + one transaction each"))
    print(row("GET /protected during a /login flood", flooded, "8 connections; target p99 < 20 ms"))
print()
print("| figure | value | note |")
print("|---|---|---|")
print(f"| stale 200s after a logout at another instance | {cross['stale']} of {cross['rounds']} | "
      f"rounds of (use at B twice, log out at A, use at B at once); target 0 |")
print(f"| JWT decode, first sight of a token, µs | {decode:.2f} | the codec's path for its own tokens; jsonwebtoken's decode: {decode_jwt:.2f} |")
print(f"| JWT decode, a token this thread verified before, µs | {decode_memo:.2f} | the memo of verified tokens (expiry still checked) |")
print(f"| revocation check from the cache, µs | {check_hit:.2f} | a non-blocking recv on the tracking socket + 2 LRU lookups |")
print(f"| revocation check without the cache, µs | {check_trip:.1f} | one MGET round trip, latency (one thread, one at a time) |")
if not only_tokens:
    print(f"| Argon2id hashes/s, 1 thread | {hash_single:.1f} | m=19456 KiB, t=2, p=1 |")
    print(f"| Argon2id hashes/s, all {cores} cores | {hash_all:.1f} | |")
    for w in workers:
        slots, delay = int(w["slots"]), int(w["delay_ms"])
        if delay:
            bound = slots * 1000 / delay
            target = " (target >= 2000)" if slots == 256 else ""
            note = f"{float(w['emails_per_s']) / bound:.0%} of the {bound:.0f}/s that {slots} slots allow{target}"
            answer = f"in {delay} ms"
        else:
            note, answer = "the ceiling: worker, Redis and the fake share the cores", "at once"
        print(f"| worker emails/s, {slots} slots, Mailgun answering {answer} | {float(w['emails_per_s']):.1f} | {w['emails']} jobs; {note} |")
print(f"| API peak resident memory | {mib(api_peak)} | VmHWM over the whole API run (target < 64 MiB) |")
if not only_tokens:
    print(f"| worker peak resident memory | {mib(w_peak)} | VmHWM |")
PY

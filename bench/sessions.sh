#!/usr/bin/env bash
# Sessions benchmark, one run on one machine:
#   - POST /refresh with rotation off (v1: one refresh token per session)
#     and on (v2: a new refresh token each time, a compare-and-set on the
#     session row), each connection its own session, in the same run;
#   - GET /protected against GET /guest on the rotating server: the token
#     check reads Redis only, never the sessions table.
#   bash bench/sessions.sh            # ~1 minute plus the release build
#   DURATION=5 bash bench/sessions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export BENCH_DIR="$root/bench"

DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-16}
PORT_V1=${PORT_V1:-5093}
PORT_V2=${PORT_V2:-5094}

bash scripts/ensure-services.sh >/dev/null
command -v wrk >/dev/null || { echo "wrk is needed (Debian package wrk; bench/run.sh installs it)" >&2; exit 1; }

echo "building release binaries"
cargo build --release --quiet --bin api-server --bin refresh_load
bin=$root/target/release

run=benchsess$(date +%s)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $run" >/dev/null 2>&1 || true
  redis-cli --scan --pattern "$run:*" | xargs -r redis-cli del >/dev/null 2>&1 || true
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
  NOTIFY_NEW_DEVICE_LOGIN=false
  RATE_LIMITS=off
  RUST_LOG=warn
)
wait_http() {
  for _ in $(seq 1 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "error: $1 did not answer" >&2; exit 1
}

(cd "$work" && env -i "${common_env[@]}" "$bin/api-server" migrate >/dev/null 2>&1)
start_api() { # PORT ROTATION
  (cd "$work" && exec env -i "${common_env[@]}" PORT="$1" REFRESH_TOKEN_ROTATION="$2" \
    "$bin/api-server" serve >"$work/api-$1.log" 2>&1) &
  pids+=("$!")
  wait_http "http://127.0.0.1:$1/health/ready"
}
start_api "$PORT_V1" false
start_api "$PORT_V2" true

email=bench@example.com password="benchmark password"
curl -fs -X POST "http://127.0.0.1:$PORT_V2/register" -H 'Content-Type: application/json' \
  -d "{\"username\":\"bench\",\"email\":\"$email\",\"password\":\"$password\"}" >/dev/null

echo "load: POST /refresh, rotation off"
v1=$("$bin/refresh_load" "http://127.0.0.1:$PORT_V1" "$email" "$password" "$CONNECTIONS" "$DURATION")
echo "load: POST /refresh, rotation on"
v2=$("$bin/refresh_load" "http://127.0.0.1:$PORT_V2" "$email" "$password" "$CONNECTIONS" "$DURATION")

TOKEN=$(curl -fs -X POST "http://127.0.0.1:$PORT_V2/login" -H 'Content-Type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
export TOKEN
wrk_json() { # SCRIPT PATH
  wrk -t2 -c32 -d"${DURATION}s" --latency -s "$BENCH_DIR/wrk/$1" "http://127.0.0.1:$PORT_V2$2" | sed -n 's/^RESULT //p'
}
echo "load: GET /guest"
guest=$(TOKEN="" wrk_json get.lua /guest)
echo "load: GET /protected"
protected=$(wrk_json get.lua /protected)
sessions=$(psql -tA -h 127.0.0.1 -U postgres -d "$run" -c "SELECT count(*) FROM sessions")

load=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$v1" "$v2" "$guest" "$protected" "$load" "$DURATION" "$CONNECTIONS" "$sessions" <<'PY' | tee "$root/bench/results/sessions.md"
import json, sys, datetime
v1, v2, guest, protected = (json.loads(a) for a in sys.argv[1:5])
load, duration, conns, sessions = sys.argv[5:9]
def row(name, r, note=""):
    errors = f" ({r['errors']} errors)" if r["errors"] else ""
    return f"| {name} | {r['rps']:.0f}{errors} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {note} |"
print(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}: load average {load} at the end; "
      f"{duration} s per phase; /refresh: {conns} clients, one session each; wrk: 32 connections; "
      f"release builds, loopback; {sessions} sessions in the table.\n")
print("| path | requests/s | p50 ms | p99 ms | note |")
print("|---|---|---|---|---|")
print(row("POST /refresh, REFRESH_TOKEN_ROTATION=false", v1, "session read + last-used update + one access token"))
share = v2["rps"] / v1["rps"] if v1["rps"] else 0
print(row("POST /refresh, rotation on", v2, f"{share:.0%} of rotation off; compare-and-set + two tokens"))
print(row("GET /guest", guest))
p = protected["rps"] / guest["rps"] if guest["rps"] else 0
print(row("GET /protected", protected, f"{p:.0%} of /guest (v1 runs: 55-62 %)"))
PY

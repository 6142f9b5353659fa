#!/usr/bin/env bash
# What the audit log costs a login: POST /login throughput of the API as it
# is (every login writes `user.login_succeeded` in the transaction that
# opens its session) against the same API built from OFF_REV, the last
# commit before any event was written. Nothing else on the login path
# differs between the two, and no switch in the server turns the audit log
# off: an audit log an operator could disable by accident is not one.
#
# Both servers run side by side (fresh database and Redis prefix each,
# RATE_LIMITS=off, HS256); wrk takes them in turn, ROUNDS times each, in
# alternation, so that the machine's drift falls on both alike. The ratio
# of the summed throughputs is the figure (target >= 0.95).
#   bash bench/audit_login.sh           # ~3 minutes, plus two release builds
#   ROUNDS=3 DURATION=5 bash bench/audit_login.sh
# Writes bench/results/audit_login.md (OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

OFF_REV=${OFF_REV:-7135b35}   # "Logs without colour codes off a terminal" (no audit writes yet)
ROUNDS=${ROUNDS:-6}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-32}
ON_PORT=${ON_PORT:-5094}
OFF_PORT=${OFF_PORT:-5095}
OUT=${OUT:-$root/bench/results/audit_login.md}

bash scripts/ensure-services.sh >/dev/null
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

run=benchaudit$(date +%s)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for side in on off; do
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS ${run}_$side" >/dev/null 2>&1 || true
    redis-cli --scan --pattern "${run}_$side:*" | xargs -r redis-cli del >/dev/null 2>&1 || true
  done
  git -C "$root" worktree remove --force "$work/off-src" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "building the release api-server (this tree)"
CARGO_INCREMENTAL=0 cargo build --release --quiet --bin api-server
on_bin=$root/target/release/api-server
# The other build keeps its own target directory, kept between runs.
off_target=$root/target/audit-off-$OFF_REV
off_bin=$off_target/release/api-server
if [[ ! -x "$off_bin" ]]; then
  echo "building the release api-server of $OFF_REV (once; kept in $off_target)"
  git worktree add --detach -q "$work/off-src" "$OFF_REV"
  (cd "$work/off-src" && CARGO_INCREMENTAL=0 CARGO_TARGET_DIR=$off_target \
    cargo build --release --quiet --bin api-server)
fi

common_env=(
  PATH="$PATH"
  REDIS_URL="redis://127.0.0.1:6379"
  JWT_ALGORITHM=HS256
  JWT_SECRET_KEY="benchmark-secret-0123456789abcdef0123456789"
  MFA_ENCRYPTION_KEY="YmVuY2htYXJrLW1mYS1rZXktMzItYnl0ZXMtbG9uZyE="
  RATE_LIMITS=off
  RUST_LOG=warn
)
start() { # SIDE BIN PORT
  local side=$1 bin=$2 port=$3
  local env_vars=("${common_env[@]}" DATABASE_URL="postgres://postgres@127.0.0.1:5432/${run}_$side"
    REDIS_KEY_PREFIX="${run}_$side:" PORT="$port")
  (cd "$work" && env -i "${env_vars[@]}" "$bin" migrate >/dev/null 2>&1)
  (cd "$work" && exec env -i "${env_vars[@]}" "$bin" serve >"$work/$side.log" 2>&1) &
  pids+=("$!")
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
    sleep 0.1
  done
  if ! kill -0 "${pids[-1]}" 2>/dev/null || ! curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null; then
    echo "error: the $side API did not start:" >&2
    cat "$work/$side.log" >&2
    exit 1
  fi
  curl -fs -o /dev/null -H 'Content-Type: application/json' \
    -d '{"username":"bench","email":"bench@example.com","password":"benchmark password"}' \
    "http://127.0.0.1:$port/register"
}
echo "starting both servers"
start on "$on_bin" "$ON_PORT"
start off "$off_bin" "$OFF_PORT"

export BENCH_DIR=$root/bench BENCH_EMAIL="bench@example.com" BENCH_PASSWORD="benchmark password"
login_round() { # PORT -> "requests seconds errors"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$BENCH_DIR/wrk/login.lua" \
    "http://127.0.0.1:$1/login" | sed -n 's/^RESULT //p' |
    python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["requests"], r["requests"] / r["rps"], r["errors"])'
}
declare -A requests=([on]=0 [off]=0) seconds=([on]=0 [off]=0) errors=([on]=0 [off]=0)
per_round=()
for round in $(seq 1 "$ROUNDS"); do
  # Alternate which side goes first.
  if (( round % 2 )); then order=(on off); else order=(off on); fi
  line="round $round:"
  for side in "${order[@]}"; do
    port=$ON_PORT; [[ $side == off ]] && port=$OFF_PORT
    read -r n s e <<<"$(login_round "$port")"
    requests[$side]=$(( ${requests[$side]} + n ))
    seconds[$side]=$(python3 -c "print(${seconds[$side]} + $s)")
    errors[$side]=$(( ${errors[$side]} + e ))
    line+=" $side $(python3 -c "print(round($n / $s))")/s"
  done
  echo "$line"
  per_round+=("$line")
done
load=$(cut -d' ' -f1-3 /proc/loadavg)
events=$(psql -X -At -h 127.0.0.1 -U postgres -d "${run}_on" -c \
  "SELECT count(*) FROM audit_events WHERE type = 'user.login_succeeded'")

python3 - "${requests[on]}" "${seconds[on]}" "${errors[on]}" "${requests[off]}" "${seconds[off]}" \
  "${errors[off]}" "$events" "$load" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$OFF_REV" \
  "$(printf '%s\n' "${per_round[@]}")" <<'PY' | tee "$OUT"
import datetime, os, sys
(on_n, on_s, on_e, off_n, off_s, off_e, events, load, rounds, duration, conns, rev,
 per_round) = sys.argv[1:]
on_rate, off_rate = int(on_n) / float(on_s), int(off_n) / float(off_s)
print(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}: {os.cpu_count()} cores, "
      f"load average {load} at the end; {rounds} alternating rounds of {duration} s per side, "
      f"{conns} connections, one account, release builds (HS256), loopback; the client on the "
      "same cores.\n")
print("| POST /login | requests | seconds | requests/s | errors | note |")
print("|---|---|---|---|---|---|")
print(f"| audit log on (this tree) | {on_n} | {float(on_s):.1f} | {on_rate:.1f} | {on_e} | "
      f"{events} user.login_succeeded events written |")
print(f"| audit log off ({rev}) | {off_n} | {float(off_s):.1f} | {off_rate:.1f} | {off_e} | "
      "the last commit before any event was written |")
print(f"\n**on / off = {on_rate / off_rate:.3f}** (target >= 0.95)\n")
print("Per round: " + "; ".join(line.split(": ", 1)[1] for line in per_round.splitlines()))
PY

#!/usr/bin/env bash
# What the second step of a two-factor login costs, next to the first: one
# release API server (HS256, fresh database and Redis prefix,
# RATE_LIMITS=off) and bench/tools mfa_load. Prints one table (also
# bench/results/mfa.md).
#   bash bench/mfa.sh                        # ~3 minutes on 2 cores, plus the build
#   USERS=100 RECOVERY_CODES=0 bash bench/mfa.sh   # shorter
#
# - USERS users with TOTP on, made through the HTTP API (register, login,
#   enrol, confirm; two password hashes each), 16 at a time.
# - POST /login for them: CONNECTIONS clients for DURATION seconds, each
#   answer `mfa_required` with an mfa_token (one Argon2id hash each).
# - POST /login/mfa with a TOTP code: one mfa_token per user, then, one
#   second into a fresh 30 s step, one request per user with that step's
#   code. A step is taken once per user, so USERS requests are all one
#   step allows: the figure is that burst.
# - POST /login/mfa with a recovery code: RECOVERY_CODES (<= 10) mfa_tokens
#   per user, then one request each (single-use codes, no step limit): a
#   longer burst. RECOVERY_CODES=0 skips it.
# - The raw Argon2id hash rate (hash_rate, 5 s on 1 thread then 5 s on
#   every core) before the server starts and after it stops: the cores are
#   shared, and the two runs show how much the machine moved meanwhile;
#   /login is read against their mean.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

USERS=${USERS:-400}
CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10}          # seconds of the /login phase
RECOVERY_CODES=${RECOVERY_CODES:-10}
PORT=${PORT:-5099}
API_BIN=${API_BIN:-}              # a binary built elsewhere (skips its build)

bash scripts/ensure-services.sh >/dev/null

echo "building release binaries"
bins=(--bin hash_rate --bin mfa_load)
[ -z "$API_BIN" ] && bins+=(--bin api-server)
CARGO_INCREMENTAL=0 cargo build --release --quiet "${bins[@]}"
bin=$root/target/release
API_BIN=${API_BIN:-$bin/api-server}

run=mfa$(date +%s)
work=$(mktemp -d)
api_pid=
cleanup() {
  [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  redis-cli --scan --pattern "$run:*" | xargs -r redis-cli del >/dev/null 2>&1 || true
  psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $run" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

env_vars=(
  PATH="$PATH"
  DATABASE_URL="postgres://postgres@127.0.0.1:5432/$run"
  REDIS_URL="redis://127.0.0.1:6379"
  REDIS_KEY_PREFIX="$run:"
  JWT_ALGORITHM=HS256
  JWT_SECRET_KEY="benchmark-secret-0123456789abcdef0123456789"
  MFA_ENCRYPTION_KEY="YmVuY2htYXJrLW1mYS1rZXktMzItYnl0ZXMtbG9uZyE="
  JWT_ACCESS_TOKEN_EXPIRES=3600
  RUST_LOG=warn
  RATE_LIMITS=off
  PORT="$PORT"
)

echo "raw Argon2id hash rate, before"
hashes_before=$("$bin/hash_rate" 5)

echo "starting the API (release) on :$PORT"
(cd "$work" && env -i "${env_vars[@]}" "$API_BIN" migrate >/dev/null 2>&1)
(cd "$work" && exec env -i "${env_vars[@]}" "$API_BIN" serve >"$work/api.log" 2>&1) &
api_pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
# Whatever answers must be the server just started.
if ! kill -0 "$api_pid" 2>/dev/null || ! curl -fs "http://127.0.0.1:$PORT/health/ready" >/dev/null; then
  echo "error: the API did not start:" >&2
  cat "$work/api.log" >&2
  exit 1
fi

"$bin/mfa_load" "http://127.0.0.1:$PORT" "$USERS" "$CONNECTIONS" "$DURATION" "$RECOVERY_CODES" |
  tee "$work/out" | grep '^RESULT' || true
results=$(sed -n 's/^RESULT //p' "$work/out")
if [ "$(wc -l <<<"$results")" -lt 2 ]; then
  echo "error: mfa_load did not finish; the server's log:" >&2
  tail -n 20 "$work/api.log" >&2
  exit 1
fi
load=$(cut -d' ' -f1-3 /proc/loadavg)
kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
api_pid=

echo "raw Argon2id hash rate, after"
hashes_after=$("$bin/hash_rate" 5)

python3 - "$results" "$hashes_before" "$hashes_after" "$load" "$USERS" "$CONNECTIONS" "$DURATION" \
  <<'PY' | tee "$root/bench/results/mfa.md"
import datetime, json, os, sys
results = {r["phase"]: r for r in map(json.loads, sys.argv[1].splitlines())}
before, after = (dict(line.split("=") for line in arg.split()) for arg in sys.argv[2:4])
load, users, conns, duration = sys.argv[4:8]
hash_all = (float(before["hash_rate_all"]) + float(after["hash_rate_all"])) / 2
print(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}: {os.cpu_count()} cores, "
      f"load average {load} at the end of the load; {users} users with TOTP on, "
      f"{conns} connections, release build (HS256), loopback; the client on the same cores.\n")
print("| path | requests | seconds | requests/s | p50 ms | p99 ms | errors | note |")
print("|---|---|---|---|---|---|---|---|")
def row(path, r, note):
    print(f"| {path} | {r['requests']} | {r['seconds']:.2f} | {r['rps']:.0f} | "
          f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['errors']} | {note} |")
login = results["login"]
row("POST /login (answers mfa_required)", login,
    f"{duration} s; {login['rps'] / hash_all:.0%} of the all-core hash rate (mean of before and after)")
row("POST /login/mfa, TOTP code", results["totp"],
    f"one per user fired at a fresh 30 s step: {users} is a step's whole budget")
if "recovery" in results:
    r = results["recovery"]
    row("POST /login/mfa, recovery code", r,
        f"single-use codes, {r['requests'] // int(users)} per user")
print()
print("| figure | value | note |")
print("|---|---|---|")
for key, what in (("hash_rate_all", f"all {before['cores']} cores"), ("hash_rate_single", "1 thread")):
    b, a = float(before[key]), float(after[key])
    print(f"| Argon2id hashes/s, {what} | {(b + a) / 2:.1f} | before / after the server: "
          f"{b:.1f} / {a:.1f}; m=19456 KiB, t=2, p=1 |")
PY

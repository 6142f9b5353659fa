#!/usr/bin/env bash
# What the signing algorithm costs, in one run: two release API servers,
# one signing with HS256 (the shared secret), one with ES256 (a key in
# PostgreSQL, published in the JWKS), loaded in turn, in alternating order
# over ROUNDS rounds. Prints one table (also bench/results/signing.md).
#   bash bench/signing.sh                 # ~3.5 minutes on 2 cores
#   DURATION=5 ROUNDS=1 bash bench/signing.sh   # shorter, noisier
#
# Per algorithm, on its server one phase after the other:
# - GET /guest: the floor, no token.
# - GET /protected with one token: after its first check the codec's memo
#   of verified tokens answers (expiry still checked), so the signature is
#   verified once per thread.
# - GET /protected with USERS distinct users' tokens, round-robin
#   (minted by bench/tools mint_tokens with the server's own key, as
#   logging 10,000 users in would cost 10,000 password hashes): no token
#   comes back before the memo has forgotten it, so every request verifies
#   a signature.
# - POST /login: one Argon2id hash and two signatures, against the raw
#   all-core hash rate.
# Then the sign and verify cost per algorithm, in µs (sign_verify).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export BENCH_DIR="$root/bench"

DURATION=${DURATION:-10}   # seconds per load phase
CONNECTIONS=${CONNECTIONS:-32}
USERS=${USERS:-10000}      # distinct users' tokens for the round-robin phase
ROUNDS=${ROUNDS:-2}         # rounds of the token-check phases
PORT=${PORT:-5097}         # HS256 here, ES256 on PORT + 1

bash scripts/ensure-services.sh >/dev/null
if ! command -v wrk >/dev/null; then
  echo "installing wrk (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

echo "building release binaries"
cargo build --release --quiet --bin api-server --bin hash_rate --bin mint_tokens --bin sign_verify
bin=$root/target/release

run=signing$(date +%s)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli --scan --pattern "$run*" | xargs -r redis-cli del >/dev/null 2>&1 || true
  for alg in hs256 es256; do
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS ${run}_$alg" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

SECRET="benchmark-secret-0123456789abcdef0123456789"
export BENCH_EMAIL="bench@example.com" BENCH_PASSWORD="benchmark password"

wait_http() {
  for _ in $(seq 1 100); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: $1 did not answer" >&2
  cat "$2" >&2
  exit 1
}

# start_api ALG PORT: a fresh database, the server, a logged-in account
# (its token in $work/token-ALG) and USERS users' tokens ($work/tokens-ALG).
start_api() {
  local alg=$1 port=$2 db=${run}_${1,,} kid=
  local env_vars=(
    PATH="$PATH"
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db"
    REDIS_URL="redis://127.0.0.1:6379"
    REDIS_KEY_PREFIX="$db:"
    JWT_ALGORITHM="$alg"
    JWT_ACCESS_TOKEN_EXPIRES=3600
    RUST_LOG=warn
    RATE_LIMITS=off
    PORT="$port"
    MFA_ENCRYPTION_KEY="YmVuY2htYXJrLW1mYS1rZXktMzItYnl0ZXMtbG9uZyE="
  )
  if [ "$alg" = HS256 ]; then
    env_vars+=(JWT_SECRET_KEY="$SECRET")
  else
    env_vars+=(SIGNING_KEYS_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)")
  fi
  echo "$alg: starting the API (release) on :$port"
  (cd "$work" && env -i "${env_vars[@]}" "$bin/api-server" migrate >/dev/null 2>&1)
  if [ "$alg" != HS256 ]; then
    # The server's key is imported, so mint_tokens can sign as it does.
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/key.pem" 2>/dev/null
    kid=$(cd "$work" && env -i "${env_vars[@]}" "$bin/api-server" keys import --alg "$alg" "$work/key.pem" | tr -d '\n')
    (cd "$work" && env -i "${env_vars[@]}" "$bin/api-server" keys activate "$kid" --force >/dev/null)
  fi
  (cd "$work" && exec env -i "${env_vars[@]}" "$bin/api-server" serve >"$work/api-$alg.log" 2>&1) &
  pids+=("$!")
  wait_http "http://127.0.0.1:$port/health/ready" "$work/api-$alg.log"

  curl -fs -X POST "http://127.0.0.1:$port/register" -H 'Content-Type: application/json' \
    -d "{\"username\":\"bench\",\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" >/dev/null
  curl -fs -X POST "http://127.0.0.1:$port/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' >"$work/token-$alg"
  local signed_with
  signed_with=$(python3 -c 'import base64,json,sys; h=open(sys.argv[1]).read().split(".")[0]; print(json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["alg"])' "$work/token-$alg")
  if [ "$signed_with" != "$alg" ]; then
    echo "error: the $alg server signed a login with $signed_with" >&2
    exit 1
  fi

  echo "$alg: minting $USERS users' tokens"
  if [ "$alg" = HS256 ]; then
    "$bin/mint_tokens" "$USERS" HS256 "$SECRET" >"$work/tokens-$alg"
  else
    "$bin/mint_tokens" "$USERS" "$alg" "$work/key.pem" "$kid" >"$work/tokens-$alg"
  fi
  # The server must take the minted tokens, or the phase would measure 401s.
  for n in 1 "$USERS"; do
    curl -fs -o /dev/null "http://127.0.0.1:$port/protected" \
      -H "Authorization: Bearer $(sed -n "${n}p" "$work/tokens-$alg")" ||
      { echo "error: the $alg server refused a minted token" >&2; exit 1; }
  done
}

declare -A port_of=([HS256]=$PORT [ES256]=$((PORT + 1)))
start_api HS256 "${port_of[HS256]}"
start_api ES256 "${port_of[ES256]}"

# phase ALG NAME SCRIPT PATH -> a RESULT json line in results.jsonl
phase() {
  local alg=$1 name=$2 line
  echo "load ($alg): $name"
  line=$(TOKEN="$(cat "$work/token-$alg")" TOKENS_FILE="$work/tokens-$alg" \
    wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$BENCH_DIR/wrk/$3" \
    "http://127.0.0.1:${port_of[$alg]}$4" | sed -n 's/^RESULT //p')
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r.update(alg=sys.argv[2], name=sys.argv[3]); print(json.dumps(r))' \
    "$line" "$alg" "$name" >>"$work/results.jsonl"
}

: >"$work/results.jsonl"
# Rounds alternate the order (HS256 first, then ES256 first) so drift on
# a shared machine hits both alike; /guest is measured on each server
# right before its /protected phases.
for round in $(seq 1 "$ROUNDS"); do
  order="HS256 ES256"
  [ $((round % 2)) -eq 0 ] && order="ES256 HS256"
  for alg in $order; do
    TOKEN="" phase "$alg" guest get.lua /guest
    phase "$alg" one get.lua /protected
    phase "$alg" many get_tokens.lua /protected
  done
done
for alg in HS256 ES256; do
  phase "$alg" login login.lua /login
done
for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
wait 2>/dev/null || true

echo "raw Argon2id hash rate"
hashes=$("$bin/hash_rate" "$((DURATION / 2 > 2 ? DURATION / 2 : 2))")
echo "sign and verify per algorithm"
costs=$("$bin/sign_verify")

load=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$work/results.jsonl" "$hashes" "$costs" "$load" "$DURATION" "$CONNECTIONS" "$USERS" "$ROUNDS" \
  <<'PY' | tee "$root/bench/results/signing.md"
import datetime, json, os, sys
results = [json.loads(line) for line in open(sys.argv[1])]
hashes = dict(line.split("=") for line in sys.argv[2].split())
costs = [line.split() for line in sys.argv[3].splitlines() if line]
load, duration, conns, users, rounds = sys.argv[4:9]
hash_all = float(hashes["hash_rate_all"])
runs = lambda alg, name: [r for r in results if r["alg"] == alg and r["name"] == name]
def merged(alg, name):
    # Mean throughput and median over the rounds, worst p99.
    rs = runs(alg, name)
    return {"rps": sum(r["rps"] for r in rs) / len(rs),
            "p50_ms": sum(r["p50_ms"] for r in rs) / len(rs),
            "p99_ms": max(r["p99_ms"] for r in rs),
            "errors": sum(r["errors"] for r in rs)}
def share(alg, name):
    # Each round's phase against the /guest measured just before it.
    ratios = [r["rps"] / g["rps"] for r, g in zip(runs(alg, name), runs(alg, "guest"))]
    spread = f" (rounds: {', '.join(f'{x:.0%}' for x in ratios)})" if len(ratios) > 1 else ""
    return f"{sum(ratios) / len(ratios):.0%} of /guest{spread}"
def row(alg, name, r, note=""):
    errors = f" ({r['errors']} errors)" if r["errors"] else ""
    return f"| {alg} | {name} | {r['rps']:.0f}{errors} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {note} |"
print(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}: {os.cpu_count()} cores, "
      f"load average {load} at the end; {duration} s per phase, {conns} connections, "
      f"{rounds} rounds of the token checks in alternating order, release builds, "
      f"loopback; wrk on the same cores.\n")
print("| algorithm | path | requests/s | p50 ms | p99 ms | note |")
print("|---|---|---|---|---|---|")
for alg in ("HS256", "ES256"):
    print(row(alg, "GET /guest", merged(alg, "guest")))
    print(row(alg, "GET /protected, one token", merged(alg, "one"),
              f"{share(alg, 'one')}; target >= 80%"))
    print(row(alg, f"GET /protected, {users} users round-robin", merged(alg, "many"),
              f"{share(alg, 'many')}; a signature verified per request"))
for alg in ("HS256", "ES256"):
    login = merged(alg, "login")
    print(row(alg, "POST /login", login,
              f"{login['rps'] / hash_all:.0%} of the all-core hash rate (target >= 85%)"))
print()
print("| figure | value | note |")
print("|---|---|---|")
print(f"| Argon2id hashes/s, 1 thread | {float(hashes['hash_rate_single']):.1f} | m=19456 KiB, t=2, p=1 |")
print(f"| Argon2id hashes/s, all {hashes['cores']} cores | {hash_all:.1f} | nothing else running |")
for alg, sign, verify in costs:
    sign, verify = sign.split("=")[1], verify.split("=")[1]
    print(f"| {alg} sign / verify one access token, µs | {sign} / {verify} | the server's codec, one thread |")
PY

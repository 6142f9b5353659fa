#!/usr/bin/env bash
# The contract's "No timing oracle": do POST /password/forgot and POST
# /verify-email/resend answer in the same time for an address an account
# uses and for an unknown one? One release API server, one run, one client
# on one keep-alive connection, one request at a time with a pause between
# them, existing / unknown interleaved in ABBA order so drift on a shared
# machine hits both alike. Prints one table per route with the AUC (also
# bench/results/forgot_password.md).
#   bash bench/forgot_password.sh                 # ~1 min 40 s plus the release build
#   PAIRS=300 ACCOUNTS=50 PAUSE_MS=30 bash bench/forgot_password.sh
#   API_BIN=/tmp/api-server-before bash bench/forgot_password.sh  # a binary built elsewhere
#   OUT=bench/results/other.md bash bench/forgot_password.sh          # another results file
#
# - 2 x ACCOUNTS accounts are registered first (plus a few for the
#   warm-up), all unverified: ACCOUNTS for each route.
# - Per route, PAIRS timed pairs: pair p is (existing, unknown) for even p
#   and (unknown, existing) for odd p; the existing address of pair p is
#   account p % ACCOUNTS, so the first ACCOUNTS pairs are first sends (a
#   secret and an outbox row written in one transaction, after the answer)
#   and the rest are repeats inside the 60 s interval (nothing sent). Every
#   unknown address is new. PAUSE_MS between requests lets the background
#   work of the previous one end.
# - /password/forgot runs first. The welcome email of registration counts
#   as a verification email for the resend interval, so /verify-email/resend
#   starts 61 s after its accounts were registered: its first sends send.
# - Reported per route: median and p90 per group, the median of the
#   per-pair differences, and the AUC (Mann-Whitney: the probability that a
#   random existing-address time exceeds a random unknown-address time, ties
#   counting one half). The contract asks |AUC - 0.5| <= 0.05.
# - No email worker runs: jobs stop in the Redis stream, which is deleted
#   at the end with the scratch database.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

ACCOUNTS=${ACCOUNTS:-50}
PAIRS=${PAIRS:-300}
PAUSE_MS=${PAUSE_MS:-30}
WARMUP_ACCOUNTS=${WARMUP_ACCOUNTS:-5}
# Where the table goes (relative to the repository).
OUT=${OUT:-bench/results/forgot_password.md}
# Other scripts run on this machine too: take whatever port is free.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
API_PORT=${API_PORT:-$(free_port)}

bash scripts/ensure-services.sh >/dev/null

if [ -n "${API_BIN:-}" ]; then
  api_bin=$API_BIN
else
  echo "building the release API server"
  cargo build --release --quiet --bin api-server
  api_bin=$root/target/release/api-server
fi

run=benchforgot$(date +%s)
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
  NOTIFY_NEW_DEVICE_LOGIN=false
  RATE_LIMITS=off
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

echo "starting the API on :$API_PORT"
(cd "$work" && env -i "${common_env[@]}" "$api_bin" migrate >/dev/null 2>&1)
(cd "$work" && exec env -i "${common_env[@]}" PORT="$API_PORT" "$api_bin" serve \
  >"$work/api.log" 2>&1) &
api_pid=$!
pids+=("$api_pid")
wait_http "http://127.0.0.1:$API_PORT/health/ready"
if ! kill -0 "$api_pid" 2>/dev/null; then
  echo "error: the API on port $API_PORT exited:" >&2
  cat "$work/api.log" >&2
  exit 1
fi

load_before=$(uptime)
echo "registering 2 x $ACCOUNTS + $WARMUP_ACCOUNTS accounts, then $PAIRS timed pairs per route"
samples=$work/samples.json
python3 - "$API_PORT" "$run" "$ACCOUNTS" "$WARMUP_ACCOUNTS" "$PAIRS" "$PAUSE_MS" "$samples" <<'PY'
import gc, http.client, json, sys, time
port, run = int(sys.argv[1]), sys.argv[2]
accounts, warmup, pairs, pause_ms, out = (int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                                          int(sys.argv[6]), sys.argv[7])
ROUTES = {
    "forgot": ("/password/forgot",
               "If an account uses that address, a password reset email is on its way."),
    "resend": ("/verify-email/resend",
               "If an unverified account uses that address, a new email is on its way."),
}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

def post(path, body):
    """(status, body text, seconds) on the keep-alive connection."""
    global conn
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    for attempt in range(2):
        try:
            started = time.perf_counter()
            conn.request("POST", path, data, headers)
            response = conn.getresponse()
            text = response.read()
            return response.status, text.decode(), time.perf_counter() - started
        except (http.client.HTTPException, ConnectionError):
            # The server closed an idle connection: reconnect, untimed.
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    raise SystemExit(f"POST {path} failed twice")

# Addresses of one length, existing or not: the same bytes to parse. The
# route's letter keeps each route's accounts apart.
existing = lambda r, n: f"{run}-{r[0]}u{n:04d}@example.com"
unknown = lambda r, n: f"{run}-{r[0]}x{n:04d}@example.com"
warm = lambda r, n: f"{run}-{r[0]}w{n:04d}@example.com"

registered_at = {}
for route in ["resend", "forgot"]:
    for n in range(accounts):
        status, text, _ = post("/register", {"username": f"{route}-{n}",
                                             "email": existing(route, n),
                                             "password": "benchmark password"})
        assert status == 201, (status, text)
    for n in range(warmup):
        status, text, _ = post("/register", {"username": f"{route}-warm-{n}",
                                             "email": warm(route, n),
                                             "password": "benchmark password"})
        assert status == 201, (status, text)
    registered_at[route] = time.time()

def ask(route, email):
    path, message = ROUTES[route]
    status, text, seconds = post(path, {"email": email})
    ok = status == 202 and json.loads(text) == {"message": message}
    return seconds, ok

result = {}
for route in ["forgot", "resend"]:
    # Registration's welcome email counts for the resend interval.
    wait = registered_at[route] + 61 - time.time()
    if route == "resend" and wait > 0:
        print(f"waiting {wait:.0f} s for the resend interval of registration to pass",
              file=sys.stderr)
        time.sleep(wait)
    # Warm-up, untimed: both paths, first sends and repeats.
    for round_ in range(2):
        for n in range(warmup):
            ask(route, warm(route, n))
            time.sleep(pause_ms / 1000)
            ask(route, f"{run}-{route[0]}y{round_}{n:03d}@example.com")
            time.sleep(pause_ms / 1000)
    gc.disable()
    samples, bad = [], 0
    first_at = time.time()
    for i in range(2 * pairs):
        pair, second = divmod(i, 2)
        # ABBA: even pairs existing first, odd pairs unknown first.
        is_existing = (second == 0) == (pair % 2 == 0)
        email = existing(route, pair % accounts) if is_existing else unknown(route, pair)
        seconds, ok = ask(route, email)
        bad += not ok
        samples.append({"pair": pair, "existing": is_existing, "first": pair < accounts,
                        "ms": seconds * 1000})
        time.sleep(pause_ms / 1000)
    span = time.time() - first_at
    gc.enable()
    result[route] = {"samples": samples, "bad": bad, "span_s": span, "started": first_at}
json.dump(result, open(out, "w"))
PY

# Every account (and warm-up account) of a route got exactly one new secret
# during its phase: repeats in the interval wrote nothing.
count_secrets() {
  psql -tA -h 127.0.0.1 -U postgres -d "$run" -c "SELECT count(*) FROM one_time_secrets
    WHERE purpose = '$1' AND created_at >= to_timestamp($2)"
}
forgot_started=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["forgot"]["started"] - 30)' "$samples")
resend_started=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["resend"]["started"] - 30)' "$samples")
reset_secrets=$(count_secrets reset_password "$forgot_started")
verify_secrets=$(count_secrets verify_email "$resend_started")
load_after=$(uptime)
cores=$(nproc)
api_source=${API_BIN:-"target/release/api-server of $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' with local changes')"}
python3 - "$samples" "$ACCOUNTS" "$WARMUP_ACCOUNTS" "$PAIRS" "$PAUSE_MS" "$reset_secrets" \
  "$verify_secrets" "$cores" "$load_before" "$load_after" "$api_source" <<'PY' | tee "$root/$OUT"
import datetime, json, statistics, sys
data = json.load(open(sys.argv[1]))
accounts, warmup, pairs, pause_ms, reset_secrets, verify_secrets, cores = (
    int(a) for a in sys.argv[2:9])
load_before, load_after, api_source = sys.argv[9].strip(), sys.argv[10].strip(), sys.argv[11]
secrets = {"forgot": (reset_secrets, "reset"), "resend": (verify_secrets, "verification")}
ROUTE_PATHS = {"forgot": "POST /password/forgot", "resend": "POST /verify-email/resend"}

def p90(values):
    return statistics.quantiles(values, n=10, method="inclusive")[8]

def auc(existing, unknown):
    """P(existing > unknown) over every pair of samples, ties one half."""
    wins = 0.0
    for x in existing:
        for y in unknown:
            wins += 1.0 if x > y else 0.5 if x == y else 0.0
    return wins / (len(existing) * len(unknown))

print(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}: {cores} cores; "
      f"binary: {api_source}, loopback, one client on one keep-alive connection, "
      f"one request at a time with {pause_ms} ms between requests, RATE_LIMITS=off.\n")
print(f"- uptime before: `{load_before}`")
print(f"- uptime after: `{load_after}`\n")
print("| route | pairs | existing median ms | unknown median ms | per-pair difference, median ms "
      "| AUC | \\|AUC - 0.5\\| | within 0.05 |")
print("|---|---|---|---|---|---|---|---|")
summary = []
for route in ["forgot", "resend"]:
    rows = data[route]["samples"]
    ex = [r["ms"] for r in rows if r["existing"]]
    un = [r["ms"] for r in rows if not r["existing"]]
    by_pair = {}
    for r in rows:
        by_pair.setdefault(r["pair"], {})[r["existing"]] = r["ms"]
    diffs = [p[True] - p[False] for p in by_pair.values() if len(p) == 2]
    a = auc(ex, un)
    print(f"| {ROUTE_PATHS[route]} | {len(diffs)} | {statistics.median(ex):.3f} "
          f"| {statistics.median(un):.3f} | {statistics.median(diffs):+.3f} | {a:.3f} "
          f"| {abs(a - 0.5):.3f} | {'yes' if abs(a - 0.5) <= 0.05 else 'NO'} |")
for route in ["forgot", "resend"]:
    rows = data[route]["samples"]
    count, kind = secrets[route]
    print(f"\n### {ROUTE_PATHS[route]}\n")
    print(f"- {2 * pairs} timed requests in {data[route]['span_s']:.1f} s, interleaved ABBA; "
          f"{accounts} unverified accounts (+{warmup} for the warm-up); answers not `202` with "
          f"the contract's body: {data[route]['bad']}; new {kind} secrets during the phase: "
          f"{count} (expected {accounts + warmup}: one per account, repeats send nothing)")
    if data[route]["span_s"] >= 60:
        print("- Warning: the phase took 60 s or more, so some repeats fell outside the interval.")
    print()
    print("| group | n | median ms | p90 ms | mean ms | AUC against the unknown of the same pairs |")
    print("|---|---|---|---|---|---|")
    def group(existing, first=None):
        return [r["ms"] for r in rows if r["existing"] == existing
                and (first is None or r["first"] == first)]
    for label, first in [("all", None), (f"first send (pairs 0-{accounts - 1})", True),
                         (f"repeat within 60 s (pairs {accounts}+)", False)]:
        ex, un = group(True, first), group(False, first)
        if len(ex) < 2 or len(un) < 2:
            continue
        print(f"| existing, {label} | {len(ex)} | {statistics.median(ex):.3f} | {p90(ex):.3f} "
              f"| {statistics.mean(ex):.3f} | {auc(ex, un):.3f} |")
        print(f"| unknown, {label} | {len(un)} | {statistics.median(un):.3f} | {p90(un):.3f} "
              f"| {statistics.mean(un):.3f} | |")
PY

#!/usr/bin/env bash
# Does POST /password/forgot answer in the same time for an address an
# account uses and for an unknown one (issue 11: "in the same time whether
# or not it exists")? One release API server, one run, one client on one
# keep-alive connection, requests interleaved existing / unknown in ABBA
# order so drift on a shared machine hits both alike. Prints one table
# (also bench/results/forgot_password.md).
#   bash bench/forgot_password.sh                 # ~20 s plus the release build
#   ACCOUNTS=50 REQUESTS=400 bash bench/forgot_password.sh
#
# - ACCOUNTS accounts are registered first (plus a few for the warm-up).
# - REQUESTS timed requests: pair p is (existing, unknown) for even p and
#   (unknown, existing) for odd p; the existing address of pair p is account
#   p % ACCOUNTS, so the first ACCOUNTS pairs are first sends (a secret and
#   an outbox row written in one transaction) and the rest are repeats
#   inside the 60 s interval (nothing sent). Every unknown address is new.
# - Reported: median and p90 per group, the ratio existing / unknown, and
#   the median of the per-pair differences (existing minus its neighbour).
# - No email worker runs: jobs stop in the Redis stream, which is deleted
#   at the end with the scratch database.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

ACCOUNTS=${ACCOUNTS:-50}
REQUESTS=${REQUESTS:-400}
WARMUP_ACCOUNTS=${WARMUP_ACCOUNTS:-5}
# Other scripts run on this machine too: take whatever port is free.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
API_PORT=${API_PORT:-$(free_port)}

bash scripts/ensure-services.sh >/dev/null

echo "building the release API server"
cargo build --release --quiet --bin api-server
bin=$root/target/release

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

echo "starting the API (release) on :$API_PORT"
(cd "$work" && env -i "${common_env[@]}" "$bin/api-server" migrate >/dev/null 2>&1)
(cd "$work" && exec env -i "${common_env[@]}" PORT="$API_PORT" "$bin/api-server" serve \
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
echo "registering $ACCOUNTS + $WARMUP_ACCOUNTS accounts, then $REQUESTS timed requests"
samples=$work/samples.json
python3 - "$API_PORT" "$run" "$ACCOUNTS" "$WARMUP_ACCOUNTS" "$REQUESTS" "$samples" <<'PY'
import gc, http.client, json, sys, time
port, run = int(sys.argv[1]), sys.argv[2]
accounts, warmup, requests, out = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
MESSAGE = "If an account uses that address, a password reset email is on its way."
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

# Addresses of one length, existing or not: the same bytes to parse.
existing = lambda n: f"{run}-u{n:04d}@example.com"
unknown = lambda n: f"{run}-x{n:04d}@example.com"
warm = lambda n: f"{run}-w{n:04d}@example.com"

for n in range(accounts):
    status, text, _ = post("/register", {"username": f"forgot-{n}", "email": existing(n),
                                         "password": "benchmark password"})
    assert status == 201, (status, text)
for n in range(warmup):
    status, text, _ = post("/register", {"username": f"warm-{n}", "email": warm(n),
                                         "password": "benchmark password"})
    assert status == 201, (status, text)

def forgot(email):
    status, text, seconds = post("/password/forgot", {"email": email})
    ok = status == 202 and json.loads(text) == {"message": MESSAGE}
    return seconds, ok

# Warm-up, untimed: both paths, first sends and repeats.
for round_ in range(2):
    for n in range(warmup):
        forgot(warm(n))
        forgot(f"{run}-y{round_}{n:03d}@example.com")

gc.disable()
samples, bad = [], 0
first_at = time.time()
for i in range(requests):
    pair, second = divmod(i, 2)
    # ABBA: even pairs existing first, odd pairs unknown first.
    is_existing = (second == 0) == (pair % 2 == 0)
    email = existing(pair % accounts) if is_existing else unknown(pair)
    seconds, ok = forgot(email)
    bad += not ok
    samples.append({"pair": pair, "existing": is_existing, "first": pair < accounts,
                    "ms": seconds * 1000})
span = time.time() - first_at
gc.enable()
json.dump({"samples": samples, "bad": bad, "span_s": span}, open(out, "w"))
PY

# Every account (and warm-up account) got exactly one secret: repeats in
# the interval wrote nothing.
secrets=$(psql -tA -h 127.0.0.1 -U postgres -d "$run" \
  -c "SELECT count(*) FROM one_time_secrets WHERE purpose = 'reset_password'")
load_after=$(uptime)
cores=$(nproc)
python3 - "$samples" "$ACCOUNTS" "$WARMUP_ACCOUNTS" "$REQUESTS" "$secrets" "$cores" \
  "$load_before" "$load_after" <<'PY' | tee "$root/bench/results/forgot_password.md"
import datetime, json, statistics, sys
data = json.load(open(sys.argv[1]))
accounts, warmup, requests, secrets, cores = (int(a) for a in sys.argv[2:7])
load_before, load_after = sys.argv[7].strip(), sys.argv[8].strip()
rows = data["samples"]

def p90(values):
    return statistics.quantiles(values, n=10, method="inclusive")[8]

def group(existing, first=None):
    return [r["ms"] for r in rows if r["existing"] == existing
            and (first is None or r["first"] == first)]

def paired(first=None):
    """Per pair: existing minus unknown (same pair, adjacent in time)."""
    by_pair = {}
    for r in rows:
        if first is None or r["first"] == first:
            by_pair.setdefault(r["pair"], {})[r["existing"]] = r["ms"]
    return [p[True] - p[False] for p in by_pair.values() if len(p) == 2]

print(f"Run {datetime.datetime.now().isoformat(timespec='seconds')}: {cores} cores; "
      f"release build, loopback, one client on one keep-alive connection, RATE_LIMITS=off.\n")
print(f"- uptime before: `{load_before}`")
print(f"- uptime after: `{load_after}`")
print(f"- {requests} timed requests in {data['span_s']:.1f} s, interleaved ABBA; "
      f"{accounts} accounts (+{warmup} for the warm-up); answers not `202` with the "
      f"contract's body: {data['bad']}; reset secrets in the database: {secrets} "
      f"(expected {accounts + warmup}: one per account, repeats send nothing)\n")
print("| group | n | median ms | p90 ms | mean ms | median / unknown median (same phase) |")
print("|---|---|---|---|---|---|")
def line(label, values, reference):
    ratio = statistics.median(values) / statistics.median(reference)
    print(f"| {label} | {len(values)} | {statistics.median(values):.2f} | {p90(values):.2f} "
          f"| {statistics.mean(values):.2f} | {ratio:.2f} |")
unknown_all, unknown_first, unknown_repeat = group(False), group(False, True), group(False, False)
line("existing, all", group(True), unknown_all)
line("unknown, all", unknown_all, unknown_all)
line(f"existing, first send (pairs 0-{accounts - 1})", group(True, True), unknown_first)
line(f"unknown, same pairs", unknown_first, unknown_first)
if unknown_repeat:
    line(f"existing, repeat within 60 s (pairs {accounts}+)", group(True, False), unknown_repeat)
    line(f"unknown, same pairs", unknown_repeat, unknown_repeat)
print()
print("| per-pair difference, existing minus unknown | pairs | median ms | p90 ms |")
print("|---|---|---|---|")
for label, first in [("all pairs", None), ("first sends", True), ("repeats", False)]:
    diffs = paired(first)
    if len(diffs) >= 2:
        print(f"| {label} | {len(diffs)} | {statistics.median(diffs):+.2f} | {p90(diffs):+.2f} |")
ratio = statistics.median(group(True)) / statistics.median(unknown_all)
print(f"\nRatio of medians, existing / unknown: {ratio:.2f} "
      f"(first sends {statistics.median(group(True, True)) / statistics.median(unknown_first):.2f}"
      + (f", repeats {statistics.median(group(True, False)) / statistics.median(unknown_repeat):.2f}"
         if unknown_repeat else "") + ").")
if data["span_s"] >= 60:
    print("\nWarning: the run took 60 s or more, so some repeats fell outside the interval.")
PY

#!/usr/bin/env bash
# Email worker throughput: drains EMAILS jobs put on the stream by
# `enqueue`, against `fake_mailgun` answering after each DELAY_MS, with
# WORKER_CONCURRENCY=SLOTS, and prints one line per (slots, delay):
#   worker slots=256 delay_ms=100 emails=10000 seconds=4.1 emails_per_s=2439.0 peak_kib=21000
# The clock starts when the worker process is started, so its start-up
# (templates, connections) counts: use enough EMAILS that it does not matter.
#   bash bench/worker.sh                      # slots 16 and 256, delays 100 and 0
#   SLOTS="256" DELAYS="100" bash bench/worker.sh
# Run by bench/run.sh, or alone (it then builds what it needs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
SLOTS=${SLOTS:-"16 256"}
DELAYS=${DELAYS:-"100 0"}
EMAILS=${EMAILS:-10000}
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
MAILGUN_PORT=${MAILGUN_PORT:-$(free_port)}

if [ -z "${SKIP_BUILD:-}" ]; then
  bash scripts/ensure-services.sh >/dev/null
  cargo build --release --quiet --bin email-worker --bin fake_mailgun --bin enqueue
fi
bin=$root/target/release
run=benchw$(date +%s)
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  redis-cli --scan --pattern "$run*" | xargs -r redis-cli del >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

for slots in $SLOTS; do
  for delay in $DELAYS; do
    prefix="$run-s$slots-d$delay:"
    "$bin/fake_mailgun" "$MAILGUN_PORT" "$delay" >/dev/null 2>&1 &
    fake=$!
    pids+=("$fake")
    for _ in $(seq 1 100); do
      curl -fs "http://127.0.0.1:$MAILGUN_PORT/count" >/dev/null 2>&1 && break
      sleep 0.1
    done
    "$bin/enqueue" redis://127.0.0.1:6379 "$prefix" "$EMAILS"
    started=$(date +%s.%N)
    (cd "$work" && exec env -i PATH="$PATH" REDIS_URL=redis://127.0.0.1:6379 \
      REDIS_KEY_PREFIX="$prefix" RUST_LOG=warn WORKER_CONCURRENCY="$slots" \
      MAILGUN_API_KEY=bench-key MAILGUN_DOMAIN=bench.example.com \
      MAILGUN_BASE_URL="http://127.0.0.1:$MAILGUN_PORT" TEMPLATES_DIR="$root/templates" \
      "$bin/email-worker" run >"$work/worker-$slots-$delay.log" 2>&1) &
    worker=$!
    pids+=("$worker")
    sent=0
    for _ in $(seq 1 2400); do
      sent=$(curl -fs "http://127.0.0.1:$MAILGUN_PORT/count" || echo 0)
      [ "$sent" -ge "$EMAILS" ] && break
      sleep 0.05
    done
    finished=$(date +%s.%N)
    peak=$(peak_kib "$worker")
    kill "$worker" "$fake" 2>/dev/null || true
    wait "$worker" "$fake" 2>/dev/null || true
    python3 -c "import sys; s=float(sys.argv[3])-float(sys.argv[2]); print(f'worker slots={sys.argv[4]} delay_ms={sys.argv[5]} emails={sys.argv[1]} seconds={s:.2f} emails_per_s={int(sys.argv[1])/s:.1f} peak_kib={sys.argv[6]}')" \
      "$sent" "$started" "$finished" "$slots" "$delay" "$peak"
  done
done

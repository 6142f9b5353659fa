#!/usr/bin/env bash
# Makes sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) answer.
# Anything already listening is used as it is; otherwise the Debian
# packages are installed (when missing) and started for local development:
# PostgreSQL with trust auth on loopback, Redis without persistence.
set -euo pipefail

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
install() {
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do
    listening "$port" && return 0
    sleep 0.5
  done
  echo "error: $name did not start listening on 127.0.0.1:$port" >&2
  exit 1
}

if listening 5432; then
  echo "PostgreSQL: already listening on 127.0.0.1:5432"
else
  echo "PostgreSQL: not listening; starting it"
  command -v pg_ctlcluster >/dev/null || install postgresql
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # Local development and CI only: trust loopback connections.
  if ! as_root grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for 5432 PostgreSQL
fi

if listening 6379; then
  echo "Redis: already listening on 127.0.0.1:6379"
else
  echo "Redis: not listening; starting it"
  command -v redis-server >/dev/null || install redis-server
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 \
    --save "" --appendonly no --dir /tmp
  wait_for 6379 Redis
fi

#!/usr/bin/env bash
# Brings up the whole service for local development: PostgreSQL and Redis
# (installed and started when missing), the database and its migrations,
# then the email worker and the API on http://127.0.0.1:5000.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-services.sh
[ -f .env ] || { cp .env.example .env; echo "Created .env from .env.example"; }
# The sample keys of .env.example are public and `serve` refuses them: give
# this checkout random keys of its own.
if grep -q '^SIGNING_KEYS_ENCRYPTION_KEY=ZGV2LW9ubHktc2FtcGxl' .env; then
  key=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
  sed -i "s|^SIGNING_KEYS_ENCRYPTION_KEY=.*|SIGNING_KEYS_ENCRYPTION_KEY=\"${key}\"|" .env
  echo "Wrote a random SIGNING_KEYS_ENCRYPTION_KEY into .env"
fi
if grep -q '^MFA_ENCRYPTION_KEY=ZGV2LW9ubHktbWZh' .env; then
  key=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
  sed -i "s|^MFA_ENCRYPTION_KEY=.*|MFA_ENCRYPTION_KEY=\"${key}\"|" .env
  echo "Wrote a random MFA_ENCRYPTION_KEY into .env"
fi
if grep -q '^JWT_SECRET_KEY=dev-only-secret-change-me' .env; then
  # 64 characters, enough for HS512.
  key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
  sed -i "s|^JWT_SECRET_KEY=.*|JWT_SECRET_KEY=\"${key}\"|" .env
  echo "Wrote a random JWT_SECRET_KEY into .env"
fi

cargo build --bin api-server --bin email-worker
./target/debug/api-server migrate

./target/debug/email-worker &
worker=$!
trap 'kill -TERM "$worker" 2>/dev/null; wait "$worker" 2>/dev/null' EXIT INT TERM

echo "API on http://127.0.0.1:${PORT:-5000} (Swagger UI at /swagger-ui); Ctrl-C stops"
./target/debug/api-server serve

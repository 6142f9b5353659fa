#!/usr/bin/env bash
# Fuzzes a running API server from its own OpenAPI document with every
# schemathesis check. Starts nothing itself: point it at a server.
#
#   scripts/schemathesis.sh BASE_URL [BEARER_TOKEN]
#   scripts/schemathesis.sh http://127.0.0.1:5000 "$ACCESS_TOKEN"
#
# Environment: SCHEMATHESIS_MAX_EXAMPLES (default 300 per operation) and
# SCHEMATHESIS_SEED (default fixed, so a failure replays) bound the run to
# about two minutes; SCHEMATHESIS_VERSION pins the PyPI release.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 ]]; then
    echo "usage: $0 BASE_URL [BEARER_TOKEN]" >&2
    exit 2
fi
base_url="${1%/}"
token="${2:-}"
version="${SCHEMATHESIS_VERSION:-4.32.5}"

if ! command -v schemathesis >/dev/null 2>&1; then
    echo "installing schemathesis ${version} from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check "schemathesis==${version}" \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
            "schemathesis==${version}"
fi

# Per-operation settings, from the document itself: an operation lists in
# `x-refuses-valid-input` the statuses a schema-valid request may still get
# (a well-formed but wrong one-time code is 400; the current password as
# the new one is 422), which no schema can tell apart from a right one.
# Every other operation keeps schemathesis's defaults.
config="$(mktemp)"
trap 'rm -f "${config}"' EXIT
python3 - "${base_url}/openapi.json" > "${config}" <<'PY'
import json
import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=30) as response:
    spec = json.load(response)
accepted = {"2xx", "3xx", "401", "403", "404", "409", "429", "5xx"}
# Paths that are also a hosted page: their GET answers the HTML page the
# emailed link opens (not an API operation, so not in the document).
pages = {"/verify-email", "/reset-password", "/confirm-email-change", "/undo-email-change"}
for path, operations in spec["paths"].items():
    refusals = set()
    for operation in operations.values():
        if isinstance(operation, dict):
            refusals.update(str(status) for status in operation.get("x-refuses-valid-input", []))
    if refusals or path in pages:
        print(f'[[operations]]\ninclude-path = "{path}"')
    if refusals:
        statuses = json.dumps(sorted(accepted | refusals))
        print(f"checks.positive_data_acceptance.expected-statuses = {statuses}")
    if path in pages:
        print('phases.coverage.unexpected-methods = ["put", "delete", "options", "patch"]')
    if refusals or path in pages:
        print()
PY

args=(
    run "${base_url}/openapi.json"
    --checks all
    --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-300}"
    --seed "${SCHEMATHESIS_SEED:-20261126}"
    --request-timeout 30
    --no-color
)
if [[ -n "${token}" ]]; then
    args+=(--header "Authorization: Bearer ${token}")
fi
schemathesis --config-file "${config}" "${args[@]}"

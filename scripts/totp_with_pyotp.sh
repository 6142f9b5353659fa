#!/usr/bin/env bash
# What an authenticator app does with our enrolment, done by an outside
# implementation: pyotp reads the otpauth:// URI and prints the current
# code, then the issuer and the account name it found, one per line.
#
#   scripts/totp_with_pyotp.sh OTPAUTH_URI
#
# Installs pyotp from PyPI when it is missing.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OTPAUTH_URI" >&2
    exit 2
fi
version="${PYOTP_VERSION:-2.9.0}"
if ! python3 -c 'import pyotp' 2>/dev/null; then
    echo "installing pyotp ${version} from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check "pyotp==${version}" \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
            "pyotp==${version}"
fi

python3 - "$1" <<'PY'
import sys
import pyotp

totp = pyotp.parse_uri(sys.argv[1])
print(totp.now())
print(totp.issuer)
print(totp.name)
PY

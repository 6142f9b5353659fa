#!/usr/bin/env bash
# Verifies one of our access tokens the way a Python service would: PyJWT's
# PyJWKClient, given nothing but the JWKS URL. Prints the token's claims.
#
#   scripts/verify_with_pyjwt.sh JWKS_URL TOKEN [ISSUER] [AUDIENCE]
#
# Installs PyJWT (with its crypto extra) from PyPI when it is missing.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 4 ]]; then
    echo "usage: $0 JWKS_URL TOKEN [ISSUER] [AUDIENCE]" >&2
    exit 2
fi
version="${PYJWT_VERSION:-2.10.1}"
if ! python3 -c 'import jwt, cryptography' 2>/dev/null; then
    echo "installing PyJWT ${version} from PyPI" >&2
    python3 -m pip install --quiet --disable-pip-version-check "pyjwt[crypto]==${version}" \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages \
            "pyjwt[crypto]==${version}"
fi

python3 - "$1" "$2" "${3:-auth-service}" "${4:-auth-service-clients}" <<'PY'
import json, sys
import jwt

jwks_url, token, issuer, audience = sys.argv[1:5]
client = jwt.PyJWKClient(jwks_url)
key = client.get_signing_key_from_jwt(token)
claims = jwt.decode(
    token,
    key.key,
    algorithms=["ES256", "EdDSA", "RS256"],
    issuer=issuer,
    audience=audience,
)
print(json.dumps(claims, sort_keys=True))
PY

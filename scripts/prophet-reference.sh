#!/usr/bin/env bash
# Runs scripts/prophet_reference.py in its own venv (.tools/prophet-venv,
# created on first use with a pinned prophet from PyPI). Arguments are passed
# through; see the script's docstring.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.tools/prophet-venv
if ! "$venv/bin/python" -c "import prophet" >/dev/null 2>&1; then
    echo "prophet-reference: installing prophet into $venv (once)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "prophet==1.5.0"
fi
exec "$venv/bin/python" scripts/prophet_reference.py "$@"

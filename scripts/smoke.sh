#!/usr/bin/env bash
# End-to-end smoke test of the real `sitga` binary over HTTP (python3's
# urllib, so nothing beyond the README's prerequisites is needed):
#   scripts/smoke.sh [DATABASE_URL] [REDIS_URL]
# Starts sitga on a free port (embedded default when no URL is given), checks
# /health, /ready, /docs and /openapi.json, walks sign-up → login → me →
# refresh → logout, optionally fuzzes every operation with schemathesis
# (SITGA_SCHEMATHESIS=1), then stops it with SIGTERM and expects a clean exit.
set -euo pipefail
cd "$(dirname "$0")/.."

db_url="${1:-}"
redis_url="${2:-}"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
log="$work/sitga.log"

cargo build --locked -q -p sitga-server --bin sitga
env -u DATABASE_URL -u REDIS_URL \
    ${db_url:+DATABASE_URL=$db_url} ${redis_url:+REDIS_URL=$redis_url} \
    JWT_SECRET="${JWT_SECRET:-$(python3 -c "import secrets; print(secrets.token_hex(32))")}" \
    SITGA_DATA_DIR="$work/data" SITGA_BIND="127.0.0.1:$port" \
    SITGA_PAYMENT_PROVIDER="${SITGA_PAYMENT_PROVIDER:-dev}" \
    target/debug/sitga serve >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

fail() { echo "smoke: $*" >&2; echo "--- sitga log ---" >&2; cat "$log" >&2; exit 1; }
# One HTTP request: prints the status code, writes the body to $work/body.
http() { # http METHOD URL [BODY] [TOKEN]
    python3 - "$1" "$2" "${3:-}" "${4:-}" "$work/body" <<'PY'
import sys, urllib.request, urllib.error
method, url, body, token, out = sys.argv[1:6]
req = urllib.request.Request(url, method=method, data=body.encode() if body else None)
if body:
    req.add_header("content-type", "application/json")
if token:
    req.add_header("authorization", "Bearer " + token)
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
opener = urllib.request.build_opener(NoRedirect)
try:
    with opener.open(req, timeout=10) as res:
        status, data = res.status, res.read()
except urllib.error.HTTPError as e:
    status, data = e.code, e.read()
except Exception:
    status, data = 0, b""
open(out, "wb").write(data)
print(status)
PY
}

for _ in $(seq 1 100); do
    [ "$(http GET "$base/health")" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || fail "sitga exited during start-up"
    sleep 0.2
done

expect() { # expect STATUS METHOD PATH [BODY] [TOKEN]
    local want=$1 method=$2 path=$3 body=${4:-} token=${5:-}
    local got
    got=$(http "$method" "$base$path" "$body" "$token")
    [ "$got" = "$want" ] || fail "$method $path: expected $want, got $got: $(cat "$work/body")"
    echo "ok  $want $method $path"
}
field() { python3 -c "import json,sys; print(json.load(open('$work/body'))['$1'])"; }

expect 200 GET /health
expect 200 GET /ready
expect 308 GET /docs
expect 200 GET /docs/
expect 200 GET /openapi.json
expect 200 GET /metrics
expect 404 GET /no-such-route
email="smoke-$RANDOM@example.com"
expect 201 POST /api/v1/auth/signup "{\"email\":\"$email\",\"password\":\"smoke password\",\"nickname\":\"smoke$RANDOM\",\"name\":\"연기 테스트\"}"
expect 200 POST /api/v1/auth/login "{\"email\":\"$email\",\"password\":\"smoke password\"}"
access=$(field access_token); refresh=$(field refresh_token)
expect 200 GET /api/v1/users/me "" "$access"
expect 200 POST /api/v1/auth/refresh "{\"refresh_token\":\"$refresh\"}"
new_refresh=$(field refresh_token)
expect 401 POST /api/v1/auth/refresh "{\"refresh_token\":\"$refresh\"}"
expect 204 POST /api/v1/auth/logout "{\"refresh_token\":\"$new_refresh\"}"

# API fuzzing from the OpenAPI document (SITGA_SCHEMATHESIS=1; CI sets it):
# schemathesis sends generated valid and invalid requests to every operation
# and fails on any 5xx, an undocumented status or content type, or a response
# that does not match its schema. Seeded, so a failure replays.
if [ -n "${SITGA_SCHEMATHESIS:-}" ]; then
    if ! .venv/bin/st --version >/dev/null 2>&1; then
        .venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
    fi
    expect 200 POST /api/v1/auth/login "{\"email\":\"$email\",\"password\":\"smoke password\"}"
    st_token=$(field access_token)
    .venv/bin/st run "$base/openapi.json" \
        -H "Authorization: Bearer $st_token" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --max-examples 25 --workers 1 --seed 20261127 --generation-deterministic \
        --request-timeout 10 \
        || fail "schemathesis found problems (above)"
    grep -q "panicked" "$log" && fail "sitga panicked during the API fuzzing"
    echo "ok  schemathesis"
fi

kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$pid" 2>/dev/null && fail "sitga did not stop on SIGTERM"
wait "$pid" && status=0 || status=$?
[ "$status" = 0 ] || fail "sitga exited with $status after SIGTERM"
grep -q "stopped" "$log" || fail "no graceful-shutdown log line"
echo "smoke: all good"

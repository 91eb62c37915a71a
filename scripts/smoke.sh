#!/usr/bin/env bash
# End-to-end smoke test of the real `sitga` binary over HTTP (curl, as the
# README's own examples use, and python3 for JSON):
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

# `--workspace`: the same features as `cargo test --workspace`, so after the
# test suite this build is already done.
cargo build --locked -q --workspace --bin sitga
# On MySQL, a database of its own (created next to the given one, dropped at
# the end): the fuzzing pass expects the first ids to be its accounts'.
smoke_db=""
if [[ "$db_url" == mysql://* ]] && command -v mysql >/dev/null; then
    read -r mysql_host mysql_port mysql_user mysql_pass <<<"$(python3 - "$db_url" <<'PY'
import sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or 3306, urllib.parse.unquote(u.username or "root"),
      urllib.parse.unquote(u.password or "") or "-")
PY
)"
    [ "$mysql_pass" = "-" ] && mysql_pass=""
    mysql_cli() { MYSQL_PWD="$mysql_pass" mysql --protocol=tcp -h "$mysql_host" -P "$mysql_port" -u "$mysql_user" -e "$1"; }
    smoke_db="sitga_smoke_$$_$RANDOM"
    mysql_cli "CREATE DATABASE \`$smoke_db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    db_url="${db_url%/*}/$smoke_db"
fi
# The same database for the server and the command-line steps below.
sitga_env=(env -u DATABASE_URL -u REDIS_URL
    ${db_url:+DATABASE_URL=$db_url} ${redis_url:+REDIS_URL=$redis_url}
    JWT_SECRET="${JWT_SECRET:-$(python3 -c "import secrets; print(secrets.token_hex(32))")}"
    SITGA_DATA_DIR="$work/data" SITGA_PAYMENT_PROVIDER="${SITGA_PAYMENT_PROVIDER:-dev}")
# The fuzzer sends thousands of sign-ups and logins from one address: the
# per-client limits (tested on their own) would answer most of them 429.
fuzz_limits=()
if [ -n "${SITGA_SCHEMATHESIS:-}" ]; then
    for limit in SIGNUP LOGIN AVAILABILITY IDENTIFY; do
        fuzz_limits+=("SITGA_${limit}_PER_IP_PER_MINUTE=1000000")
    done
    fuzz_limits+=(SITGA_LOGIN_PER_EMAIL_PER_MINUTE=1000000)
fi
"${sitga_env[@]}" "${fuzz_limits[@]}" SITGA_BIND="127.0.0.1:$port" \
    target/debug/sitga serve >"$log" 2>&1 &
pid=$!
cleanup() {
    kill "$pid" 2>/dev/null || true
    rm -rf "$work"
    [ -z "$smoke_db" ] || mysql_cli "DROP DATABASE IF EXISTS \`$smoke_db\`" || true
}
trap cleanup EXIT

fail() { echo "smoke: $*" >&2; echo "--- sitga log ---" >&2; cat "$log" >&2; exit 1; }
# One HTTP request: prints the status code (000 when nothing answered),
# writes the body to $work/body. curl, not a python3 per request: the
# fuzzing set-up sends ~750 requests, and python3's start-up alone took
# 0.2 s of each.
http() { # http METHOD URL [BODY] [TOKEN]
    local args=(--silent --max-time 10 --output "$work/body" --write-out '%{http_code}' --request "$1")
    [ -z "${3:-}" ] || args+=(--header 'content-type: application/json' --data-binary "$3")
    [ -z "${4:-}" ] || args+=(--header "authorization: Bearer $4")
    : >"$work/body"
    curl "${args[@]}" "$2" || true
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
# A valid 사업자등록번호 from nine digits (the check digit computed).
business_number() {
    python3 -c "d=[int(c) for c in '$1'[:9]]; s=sum(a*b for a,b in zip(d,[1,3,7,1,3,7,1,3,5]))+d[8]*5//10; n='$1'[:9]+str((10-s%10)%10); print(n[:3]+'-'+n[3:5]+'-'+n[5:])"
}

# The fuzzing accounts: a cafe (points, a bank account, two payout requests,
# the first auctions and pickups), a recycler who bids on and collects them
# (enough points for any bid), an operator and an admin; then the demo data
# around them. Their tokens go to schemathesis through the environment. The
# OpenAPI document's example ids point at these objects
# (crates/api/src/spec_rules.rs, `example_id`).
fuzz_setup() {
    local who run=$RANDOM business name kind serial i
    # Ids 2–6 (after the smoke user): the cafe and the recycler (verified
    # businesses), the operator, the admin, and a cafe whose registration
    # waits for a decision. Business numbers 90…-… (the demo's are 1xx-…).
    for who in fuzzcafe:cafe:2 fuzzrecycler:recycler:3 fuzzoperator:member: fuzzadmin:member: fuzzpending:cafe:6; do
        IFS=: read -r name kind serial <<<"$who"
        business=""
        if [ -n "$serial" ]; then
            business=",\"business_number\":\"$(business_number "90$serial$(printf %06d "$run")")\",\"business_name\":\"퍼즈 상회 $serial\""
        fi
        expect 201 POST /api/v1/auth/signup "{\"email\":\"$name$run@example.com\",\"password\":\"fuzz password 1\",\"nickname\":\"$name$run\",\"name\":\"퍼즈\",\"account_type\":\"$kind\"$business}" >/dev/null
    done
    "${sitga_env[@]}" target/debug/sitga admin grant "fuzzoperator$run@example.com" operator >/dev/null
    "${sitga_env[@]}" target/debug/sitga admin grant "fuzzadmin$run@example.com" admin >/dev/null
    token_of() { expect 200 POST /api/v1/auth/login "{\"email\":\"$1$run@example.com\",\"password\":\"fuzz password 1\"}" >/dev/null; field access_token; }
    SITGA_MEMBER_TOKEN=$(token_of fuzzcafe); SITGA_OTHER_TOKEN=$(token_of fuzzrecycler)
    SITGA_OPERATOR_TOKEN=$(token_of fuzzoperator); SITGA_ADMIN_TOKEN=$(token_of fuzzadmin)
    export SITGA_MEMBER_TOKEN SITGA_OTHER_TOKEN SITGA_OPERATOR_TOKEN SITGA_ADMIN_TOKEN
    local recycler_id
    expect 200 GET /api/v1/users/me "" "$SITGA_OTHER_TOKEN" >/dev/null; recycler_id=$(field id)
    for i in 2 3; do
        expect 200 POST "/api/v1/admin/verifications/$i" '{"decision":"verified"}' "$SITGA_OPERATOR_TOKEN" >/dev/null
    done
    for token in "$SITGA_MEMBER_TOKEN" "$SITGA_OTHER_TOKEN"; do
        expect 200 PATCH /api/v1/users/me '{"bank_account":"국민 123-456-789"}' "$token" >/dev/null
        expect 200 POST /api/v1/me/balance/charge '{"amount":2000000}' "$token" >/dev/null
    done
    local i
    for i in 1 2; do
        expect 200 POST /api/v1/me/balance/withdraw '{"amount":1000}' "$SITGA_MEMBER_TOKEN" >/dev/null
    done
    for i in $(seq 200); do
        expect 201 POST /api/v1/auctions '{"title":"감성돔","description":"","start_price":1000}' "$SITGA_MEMBER_TOKEN" >/dev/null
    done
    # Auction 201: the one with a buy-now price (the example of buy-now).
    expect 201 POST /api/v1/auctions '{"title":"참돔","description":"","start_price":1000,"buy_now_price":30000}' "$SITGA_MEMBER_TOKEN" >/dev/null
    # Auction 202: a clock (dutch) auction of many boxes whose price holds
    # for an hour (the example of accept, at 30,000 KRW a box).
    expect 201 POST /api/v1/auctions '{"title":"고등어","description":"","format":"dutch","start_price":30000,"floor_price":20000,"step":1000,"step_seconds":3600,"quantity":10000}' "$SITGA_MEMBER_TOKEN" >/dev/null
    # Sales 1–8: the recycler buys auctions 10–17 from the cafe, and each
    # sale is left where its operation's example needs it (1 awaiting
    # details, 2 and 6 awaiting shipment, 3 and 4 ready for pickup, 5
    # awaiting details, 7 settled, 8 disputed). Sales 9–112 wait to be
    # shipped: the fuzzer's own ids mostly find a sale, as they find an
    # auction or a pickup, and some of its steps on them succeed.
    for i in $(seq 10 121); do
        expect 201 POST "/api/v1/auctions/$i/bids" '{"amount":1000}' "$SITGA_OTHER_TOKEN" >/dev/null
        expect 200 POST "/api/v1/auctions/$i/close" '' "$SITGA_MEMBER_TOKEN" >/dev/null
    done
    for i in 2 3 4 6 7 8 $(seq 9 112); do
        expect 200 POST "/api/v1/sales/$i/details" '{"delivery":"pickup"}' "$SITGA_OTHER_TOKEN" >/dev/null
    done
    for i in 3 4 7 8; do expect 200 POST "/api/v1/sales/$i/ship" '{}' "$SITGA_MEMBER_TOKEN" >/dev/null; done
    expect 200 POST /api/v1/sales/7/confirm '{}' "$SITGA_OTHER_TOKEN" >/dev/null
    expect 200 POST /api/v1/sales/8/dispute '{"reason":"얼음이 다 녹아 있었어요"}' "$SITGA_OTHER_TOKEN" >/dev/null
    for i in $(seq 60); do expect 201 POST /api/v1/pickups '{"amount_kg":5}' "$SITGA_MEMBER_TOKEN" >/dev/null; done
    for i in $(seq 30); do expect 200 POST "/api/v1/pickups/$i/claim" '{}' "$SITGA_OTHER_TOKEN" >/dev/null; done
    # Pickup 3: weighed at 9 kg on 5 kg posted, waiting for the cafe's
    # confirmation (the example of confirm-weight).
    expect 200 POST /api/v1/pickups/3/complete '{"measured_kg":9}' "$SITGA_OTHER_TOKEN" >/dev/null
    for i in $(seq 100); do
        expect 200 POST "/api/v1/admin/users/$recycler_id/adjust" '{"amount":10000000,"reason":"fuzzing funds"}' "$SITGA_ADMIN_TOKEN" >/dev/null
    done
    "${sitga_env[@]}" target/debug/sitga demo-data --force >/dev/null
}

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
# schemathesis sends generated valid and invalid requests to every operation,
# as the role each needs, with every check it has (`--checks all`): no 5xx,
# only documented statuses, content types and bodies, schema-valid requests
# accepted and schema-violating ones refused, links followed. It must end with
# no failure and no warning. Seeded, so a failure replays. See docs/fuzzing.md.
if [ -n "${SITGA_SCHEMATHESIS:-}" ]; then
    if ! .venv/bin/st --version >/dev/null 2>&1; then
        .venv/bin/pip install --quiet --disable-pip-version-check "schemathesis==4.32.5"
    fi
    fuzz_setup
    run_st() {
        local status
        PYTHONPATH=tests/schemathesis SCHEMATHESIS_HOOKS=hooks \
            .venv/bin/st --config-file tests/schemathesis/schemathesis.toml \
            run "$base/openapi.json" --checks all --max-examples 25 --workers 1 \
            --seed 20261127 --generation-deterministic --request-timeout 10 "$@" \
            >"$work/st.log" 2>&1 && status=0 || status=$?
        cat "$work/st.log"
        [ "$status" = 0 ] || fail "schemathesis found problems (above)"
        grep -q "WARNINGS" "$work/st.log" && fail "schemathesis warned (above)"
        cases=$((cases + $(sed -n 's/^  \([0-9]*\) generated.*/\1/p' "$work/st.log" | tail -1)))
    }
    cases=0
    # Admin actions run after the rest (removing a listing or banning an
    # account changes what the other operations find), and bans last of all
    # (a banned fuzzing account's session ends).
    run_st --exclude-path-regex '^/api/v1/admin/'
    run_st --include-path-regex '^/api/v1/(admin/|auth/signup$|me/balance/withdraw$)' \
        --exclude-path-regex '/ban$'
    run_st --include-path-regex '(/ban|/auth/signup)$'
    grep -q "panicked" "$log" && fail "sitga panicked during the API fuzzing"
    echo "ok  schemathesis: $cases cases, no failure, no warning"
fi

kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
kill -0 "$pid" 2>/dev/null && fail "sitga did not stop on SIGTERM"
wait "$pid" && status=0 || status=$?
[ "$status" = 0 ] || fail "sitga exited with $status after SIGTERM"
grep -q "stopped" "$log" || fail "no graceful-shutdown log line"
echo "smoke: all good"

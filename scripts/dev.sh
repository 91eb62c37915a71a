#!/usr/bin/env bash
# The two commands of the README:
#   scripts/dev.sh serve   set up, migrate and serve on the embedded default
#   scripts/dev.sh test    set up and run the whole test suite
# Anything after the command is passed on (to `sitga serve` or `cargo test`).
set -euo pipefail
cd "$(dirname "$0")/.."

cmd="${1:-}"
shift || true
case "$cmd" in
    serve)
        scripts/bootstrap.sh
        cargo build --locked -p sitga-api --bin sitga
        # A first run gets demo accounts, live auctions and chat (skipped when
        # present; set SITGA_NO_DEMO=1 to start empty).
        if [ -z "${SITGA_NO_DEMO:-}" ]; then
            target/debug/sitga demo-data
        fi
        exec target/debug/sitga serve "$@"
        ;;
    test)
        scripts/bootstrap.sh
        backend="sqlite"
        case "${SITGA_TEST_DATABASE_URL:-${DATABASE_URL:-}}" in mysql://*) backend="mysql";; esac
        echo "[test] database backend: $backend; redis: ${REDIS_URL:-in-process}" >&2
        cargo test --locked --workspace "$@"
        # The real binary, end to end over HTTP, on the same backend.
        scripts/smoke.sh "${DATABASE_URL:-}" "${REDIS_URL:-}"
        ;;
    *)
        echo "usage: scripts/dev.sh serve|test [args…]" >&2
        exit 2
        ;;
esac

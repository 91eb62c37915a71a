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
        # `--workspace`: the features the test suite builds with, so `test`
        # after `serve` (or the other way round) compiles no dependency twice.
        cargo build --locked --workspace --bin sitga
        # Without a chain of your own (CHAIN_RPC_URL), a local anvil node
        # keeps its chain in the data dir and the donation contract is
        # deployed on it once (SITGA_NO_CHAIN=1: on-chain records off).
        anvil_pid=""
        if [ -z "${CHAIN_RPC_URL:-}" ] && [ -z "${SITGA_NO_CHAIN:-}" ]; then
            data="${SITGA_DATA_DIR:-data}"
            port="${SITGA_ANVIL_PORT:-8545}"
            mkdir -p "$data"
            contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil \
                --host 127.0.0.1 --port "$port" --state "$data/anvil-state.json" --state-interval 10 \
                > "$data/anvil.log" 2>&1 &
            anvil_pid=$!
            trap 'kill "$anvil_pid" 2>/dev/null; wait "$anvil_pid" 2>/dev/null' EXIT
            export CHAIN_RPC_URL="http://127.0.0.1:$port"
            # anvil's first development account: for this local chain only.
            export CHAIN_PRIVATE_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
            for _ in $(seq 1 100); do
                curl -sf -X POST -H 'content-type: application/json' \
                    -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' \
                    "$CHAIN_RPC_URL" > /dev/null && break
                sleep 0.1
            done
            if [ ! -s "$data/chain-contract" ] || [ ! -s "$data/anvil-state.json" ]; then
                target/debug/sitga chain deploy | sed -n 's/^export CHAIN_CONTRACT_ADDRESS=//p' > "$data/chain-contract"
            fi
            CHAIN_CONTRACT_ADDRESS="$(cat "$data/chain-contract")"
            export CHAIN_CONTRACT_ADDRESS
            echo "[serve] local chain: anvil at $CHAIN_RPC_URL, DonationRegistry at $CHAIN_CONTRACT_ADDRESS" >&2
        fi
        # A first run gets demo accounts, live auctions and chat (skipped when
        # present; set SITGA_NO_DEMO=1 to start empty).
        # A database with real accounts is left alone (demo-data says why).
        if [ -z "${SITGA_NO_DEMO:-}" ]; then
            target/debug/sitga demo-data || echo "[serve] starting without demo data" >&2
        fi
        if [ -z "$anvil_pid" ]; then
            exec target/debug/sitga serve "$@"
        fi
        # sitga and the local chain stop together: a TERM or Ctrl-C to this
        # script stops sitga gracefully, then the EXIT trap stops anvil.
        target/debug/sitga serve "$@" &
        sitga_pid=$!
        trap 'kill -TERM "$sitga_pid" 2>/dev/null' TERM INT
        status=0
        wait "$sitga_pid" || status=$?
        # A trapped signal interrupts the first wait; sitga is still stopping.
        wait "$sitga_pid" 2>/dev/null || true
        exit "$status"
        ;;
    test)
        scripts/bootstrap.sh
        backend="sqlite"
        case "${SITGA_TEST_DATABASE_URL:-${DATABASE_URL:-}}" in mysql://*) backend="mysql";; esac
        echo "[test] database backend: $backend; redis: ${REDIS_URL:-in-process}" >&2
        started=$SECONDS
        cargo test --locked --workspace "$@"
        echo "[test] cargo test: $((SECONDS - started)) s" >&2
        # The real binary, end to end over HTTP, on the same backend.
        started=$SECONDS
        scripts/smoke.sh "${DATABASE_URL:-}" "${REDIS_URL:-}"
        echo "[test] smoke: $((SECONDS - started)) s" >&2
        ;;
    *)
        echo "usage: scripts/dev.sh serve|test [args…]" >&2
        exit 2
        ;;
esac

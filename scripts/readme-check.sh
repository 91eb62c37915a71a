#!/usr/bin/env bash
# Runs the README's walk-through against a fresh `scripts/dev.sh serve`, the
# way a newcomer pastes it: every ```sh block from "A first session with
# curl" up to "## Configuration", in order, in ONE bash with `set -e` (so
# variables carry over and the first failing step fails the check). A block
# preceded by `<!-- readme-check: skip (why) -->` is left out; the comment
# says why in the README itself.
#
# The server runs from a temporary data directory on a free port; the
# blocks' 127.0.0.1:8080 is rewritten to it. Its log is printed on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
anvil_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="$work/serve.log"

python3 - "$port" > "$work/walkthrough.sh" <<'PY'
import re, sys
port = sys.argv[1]
text = open("README.md", encoding="utf-8").read()
start = text.index("A first session with curl")
end = text.index("## Configuration")
section = text[start:end]
blocks = []
for m in re.finditer(r"(<!-- readme-check: skip[^>]*-->\n)?```sh\n(.*?)```", section, re.S):
    if m.group(1):
        continue
    blocks.append(m.group(2))
if len(blocks) < 5:
    sys.exit(f"readme-check: only {len(blocks)} shell blocks found; the README changed shape")
print("set -euo pipefail")
for i, block in enumerate(blocks, 1):
    print(f"echo '--- README block {i} of {len(blocks)}' >&2")
    print(block.replace("127.0.0.1:8080", f"127.0.0.1:{port}"))
PY

cleanup() {
    if [ -n "${serve_pid:-}" ]; then
        kill -TERM "$serve_pid" 2>/dev/null || true
        wait "$serve_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

env -u DATABASE_URL -u REDIS_URL -u CHAIN_RPC_URL -u CHAIN_PRIVATE_KEY -u CHAIN_CONTRACT_ADDRESS \
    SITGA_DATA_DIR="$work/data" SITGA_BIND="127.0.0.1:$port" SITGA_ANVIL_PORT="$anvil_port" \
    scripts/dev.sh serve > "$log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 600); do
    if curl -fs "http://127.0.0.1:$port/health" > /dev/null 2>&1; then break; fi
    if ! kill -0 "$serve_pid" 2>/dev/null; then
        echo "readme-check: serve exited before answering" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.5
done

# The admin block runs `cargo run … sitga admin grant`, which must find the
# same data directory.
if ! SITGA_DATA_DIR="$work/data" bash "$work/walkthrough.sh"; then
    echo "readme-check: a README step failed; the server's log:" >&2
    tail -n 60 "$log" >&2
    exit 1
fi
echo "readme-check: every README walk-through block ran against a fresh serve"

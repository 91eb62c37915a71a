#!/usr/bin/env bash
# Idempotent set-up shared by `scripts/dev.sh serve|test` and CI.
# Needs only the Rust toolchain, python3 and npm; installs what the project
# uses from the registries, into the repository (.tools/, .venv/), so a second
# run is instant.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[bootstrap]\033[0m %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) first"
command -v python3 >/dev/null || die "python3 not found"

rustc_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "${rustc_minor:-0}" -lt 92 ]; then
    die "Rust 1.92 or newer is needed (found $(rustc --version))"
fi

mkdir -p data
say "toolchain ok ($(rustc --version))"

# ONNX Runtime for the fish model: the shared library ships in the PyPI
# wheel; sitga loads it from .venv (or from ORT_DYLIB_PATH). Pillow and numpy
# serve the Python reference pipeline the tests compare against.
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
    if [ ! -x .venv/bin/python ]; then
        say "creating .venv for ONNX Runtime"
        python3 -m venv .venv || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    fi
    if ! .venv/bin/python -c "import onnxruntime, PIL, numpy" >/dev/null 2>&1; then
        say "installing onnxruntime, pillow and numpy into .venv (once)"
        .venv/bin/pip install --quiet --disable-pip-version-check \
            "onnxruntime==1.32.0" "pillow>=10" "numpy>=1.26" || die "pip install failed"
    fi
    say "ONNX Runtime $(.venv/bin/python -c 'import onnxruntime; print(onnxruntime.__version__)') ready"
fi

# The donation contract's tools (npm): solc-js to compile it, and anvil, the
# local chain the chain tests start. Installed once from the lock file.
if [ ! -x contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil ]; then
    command -v npm >/dev/null 2>&1 || die "npm is needed for the contract tools (Debian: apt-get install npm)"
    say "installing solc and anvil into contracts/node_modules (once)"
    (cd contracts && npm ci --no-audit --no-fund --silent) || die "npm ci in contracts/ failed"
fi
say "anvil $(contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil --version | head -1 | awk '{print $NF}') ready"

# A Korean font, so the dashboard's Korean labels render in the browser test
# and its screenshot (Debian's fonts-noto-cjk). Installed when this user can
# run apt-get; otherwise said, since only the browser test needs it.
if ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing fonts-noto-cjk (once)"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-cjk >/dev/null \
            || die "apt-get install fonts-noto-cjk failed"
    else
        say "no CJK font: the browser test needs one (Debian: sudo apt-get install fonts-noto-cjk)"
    fi
fi

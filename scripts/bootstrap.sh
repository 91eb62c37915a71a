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

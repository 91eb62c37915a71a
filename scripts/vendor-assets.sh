#!/usr/bin/env bash
# Re-vendors the dashboard's front-end libraries from npm into assets/vendor.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --silent --no-audit --no-fund chart.js@4.6.1)
cp "$work/node_modules/chart.js/dist/chart.umd.min.js" assets/vendor/
cp "$work/node_modules/chart.js/LICENSE.md" assets/vendor/chart.js-LICENSE.md
echo "vendored chart.js 4.6.1"

#!/usr/bin/env bash
# Re-vendors the dashboard's front-end libraries from npm into assets/vendor.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm install --silent --no-audit --no-fund chart.js@4.6.1 swagger-ui-dist@5.35.0 @svg-maps/south-korea@2.0.0)
cp "$work/node_modules/chart.js/dist/chart.umd.min.js" assets/vendor/
cp "$work/node_modules/chart.js/LICENSE.md" assets/vendor/chart.js-LICENSE.md
echo "vendored chart.js 4.6.1"
# The API docs page (/docs): only the bundle and its stylesheet; the page
# and its start-up script are ours (assets/docs), pinned to our spec.
mkdir -p assets/vendor/swagger-ui
cp "$work/node_modules/swagger-ui-dist/swagger-ui-bundle.js" \
   "$work/node_modules/swagger-ui-dist/swagger-ui.css" assets/vendor/swagger-ui/
cp "$work/node_modules/swagger-ui-dist/LICENSE" assets/vendor/swagger-ui/LICENSE
cp "$work/node_modules/swagger-ui-dist/NOTICE" assets/vendor/swagger-ui/NOTICE 2>/dev/null || true
echo "vendored swagger-ui-dist 5.35.0"
# The dashboard's map: the 17 provinces' boundaries (an ES module of SVG
# paths), under CC BY 4.0 with its attribution shown on the map.
mkdir -p assets/vendor/south-korea
cp "$work/node_modules/@svg-maps/south-korea/index.js" assets/vendor/south-korea/south-korea.js
cp "$work/node_modules/@svg-maps/south-korea/LICENSE.md" assets/vendor/south-korea/LICENSE.md
echo "vendored @svg-maps/south-korea 2.0.0"

#!/usr/bin/env bash
# Install the console's npm dependencies (npm ci from its lock file) and build it into
# console/dist when its sources changed (stamp over sources, lock file and the API document).
#   scripts/build_console.sh          # install + build if stale
#   scripts/build_console.sh --check  # also: API types drift check, type check, unit tests (make test)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/console"
log() { printf '[console] %s\n' "$*"; }
stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

LOCK_STAMP="$(stamp package-lock.json)"
if [ ! -f node_modules/.voltops-stamp ] || [ "$(cat node_modules/.voltops-stamp)" != "$LOCK_STAMP" ]; then
  log "installing dependencies (npm ci)"
  npm ci --silent --no-audit --no-fund
  echo "$LOCK_STAMP" > node_modules/.voltops-stamp
fi

if [ "${1:-}" = "--check" ]; then
  npm run --silent check:api
  npm run --silent typecheck
  npx vitest run --reporter=dot
fi

SRC_STAMP="$(find src public index.html vite.config.ts package-lock.json ../docs/openapi.json -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
if [ ! -f dist/index.html ] || [ ! -f node_modules/.voltops-dist-stamp ] || [ "$(cat node_modules/.voltops-dist-stamp)" != "$SRC_STAMP" ]; then
  log "building console/dist"
  npx vite build --logLevel warn
  echo "$SRC_STAMP" > node_modules/.voltops-dist-stamp
fi

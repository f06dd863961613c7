#!/usr/bin/env bash
# Install everything VoltOps needs, on a bare Debian machine or a developer's laptop.
# Idempotent and fast when nothing changed (stamps keyed on the lock files).
#   - system packages (mosquitto) when missing
#   - uv (pinned) in .tools/, then the Python environment in .venv from uv.lock (frozen)
#   - the pinned CDK CLI from package-lock.json (npm ci)
#   - the Lambda dependency layer in build/lambda-layer (the only step that fetches wheels for Lambda)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV_VERSION="0.13.9"
PY="${VOLTOPS_PYTHON:-python3.11}"

log() { printf '[bootstrap] %s\n' "$*"; }

command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
  echo "VoltOps needs Python 3.11 (found: $("$PY" --version 2>&1))." >&2; exit 1; }

bash scripts/ensure_system_packages.sh

if [ ! -x .tools/bin/uv ] || ! .tools/bin/uv --version | grep -q "$UV_VERSION"; then
  log "installing uv $UV_VERSION"
  "$PY" -m venv .tools
  .tools/bin/pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

PY_STAMP="$(stamp uv.lock pyproject.toml)"
if [ ! -f .venv/.voltops-stamp ] || [ "$(cat .venv/.voltops-stamp)" != "$PY_STAMP" ]; then
  log "syncing .venv from uv.lock"
  UV_PROJECT_ENVIRONMENT="$ROOT/.venv" .tools/bin/uv sync --frozen --python "$PY" --quiet
  echo "$PY_STAMP" > .venv/.voltops-stamp
fi

if [ -f package-lock.json ]; then
  NPM_STAMP="$(stamp package-lock.json)"
  if [ ! -f node_modules/.voltops-stamp ] || [ "$(cat node_modules/.voltops-stamp)" != "$NPM_STAMP" ]; then
    log "installing the pinned CDK CLI (npm ci)"
    npm ci --silent --no-audit --no-fund
    echo "$NPM_STAMP" > node_modules/.voltops-stamp
  fi
fi

LAYER_STAMP="$(stamp scripts/build_lambda_layer.sh uv.lock)"
if [ ! -f build/lambda-layer/.voltops-stamp ] || [ "$(cat build/lambda-layer/.voltops-stamp)" != "$LAYER_STAMP" ]; then
  log "building the Lambda dependency layer"
  bash scripts/build_lambda_layer.sh
  echo "$LAYER_STAMP" > build/lambda-layer/.voltops-stamp
fi
log "ready"

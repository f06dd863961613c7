#!/usr/bin/env bash
# The headless browser for the console's browser tests and benchmark: Debian's chromium and a
# CJK font (so Chinese labels render as glyphs, not boxes). Installed only when missing; runs
# as root (no sudo in the build image). Playwright drives this system browser (no download).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "[bootstrap] installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" fontconfig >/dev/null
fi

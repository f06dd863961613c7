#!/usr/bin/env bash
# System packages the local stack needs (Debian): the MQTT broker.
# Idempotent and quiet; runs as root (no sudo in the build image).
set -euo pipefail
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || (
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends mosquitto >/dev/null
)

#!/usr/bin/env bash
# System packages VoltOps needs (Debian): the MQTT broker for the local stack, and Node.js/npm
# for the CDK CLI and jsii. Idempotent and quiet; runs as root (no sudo in the build image).
set -euo pipefail
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

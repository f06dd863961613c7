#!/usr/bin/env bash
# Fill build/lambda-layer/python with the third-party packages the Lambda functions import.
#
# Run by the install step (never by tests or by `cdk synth`, which must work offline and
# without docker). The CDK app packages build/lambda-layer as a Lambda layer and fails with a
# clear message when this directory is missing.
#
# Why these flags:
# - --platform manylinux2014_x86_64 --implementation cp --python-version 3.11 --only-binary=:all:
#   fetch the wheels the Lambda runtime (python3.11, x86_64) needs, whatever machine builds
#   the layer. infra/constructs/lambda_defaults.py pins the functions to x86_64 to match.
# - --no-deps with an explicit, fully pinned list (versions from uv.lock): the layer holds
#   exactly the runtime closure we test against and nothing else. Left out on purpose:
#   boto3/botocore/s3transfer/jmespath/urllib3/dateutil/six (provided by the Lambda runtime),
#   and chalice's CLI dependencies (click, pyyaml, inquirer, pip, wheel, setuptools, ...):
#   at run time an app only imports chalice/app.py, which uses the standard library alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
LAYER_DIR="$ROOT/build/lambda-layer"
TARGET="$LAYER_DIR/python"
STAGING="$LAYER_DIR.tmp.$$"

# Keep in step with uv.lock (same versions as the test environment).
REQUIREMENTS=(
  "pydantic==2.14.3"
  "pydantic-core==2.50.4"
  "annotated-types==0.8.0"
  "typing-extensions==4.16.0"
  "typing-inspection==0.4.5"
  "pynamodb==6.1.0"
  "aws-lambda-powertools==3.37.0"
  "aws-xray-sdk==2.15.0"
  "wrapt==2.5.2"
  "chalice==1.34.0"
  "pyjwt==2.15.1"
  "cryptography==50.0.2"
  "cffi==2.1.1"
  "pycparser==3.12"
)

rm -rf "$STAGING"
mkdir -p "$STAGING/python"
trap 'rm -rf "$STAGING"' EXIT

"$PYTHON" -m pip install \
  --quiet --disable-pip-version-check --no-compile --no-deps \
  --platform manylinux2014_x86_64 --implementation cp --python-version 3.11 --only-binary=:all: \
  --target "$STAGING/python" \
  "${REQUIREMENTS[@]}"

# Byte-code caches and dist-info RECORDs differ between builds; drop what Lambda does not need
# so that the layer's asset hash only changes when the packages do.
find "$STAGING/python" -type d -name __pycache__ -prune -exec rm -rf {} +
rm -rf "$STAGING/python/bin"

# Swap in atomically so an interrupted build never leaves a half-filled layer behind.
rm -rf "$LAYER_DIR"
mv "$STAGING" "$LAYER_DIR"
trap - EXIT
echo "Lambda layer ready: $TARGET ($(du -sh "$TARGET" | cut -f1))"

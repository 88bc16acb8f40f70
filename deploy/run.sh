#!/usr/bin/env bash
# The main job on the embedded default model. Until the server lands this is `lmeye verify` on
# the shipped LMEye fixture: it recomputes every golden tensor and prints its max abs diff.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh
BUILD_DIR="${LMEYE_BUILD_DIR:-build}"
for m in tests/data/models/*/; do
  "$BUILD_DIR/server/lmeye" verify --model "$m"
done

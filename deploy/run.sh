#!/usr/bin/env bash
# The main job: builds, checks the shipped goldens (`lmeye verify`, a few seconds), then serves
# the gRPC API with the embedded default model (a small random-weight LMEye written once by
# init-model; pass --model DIR or --config FILE for a real one). Ctrl-C or SIGTERM drains.
#   deploy/run.sh [lmeye serve flags...]
# Talk to it from another terminal: build/client/lmeye_client chat --image tests/data/images/chelsea.png
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh
BUILD_DIR="${LMEYE_BUILD_DIR:-build}"
"$BUILD_DIR/server/lmeye" verify $(for m in tests/data/models/*/; do echo --model "$m"; done) \
  | grep -E "^(PASS|FAIL)"
exec "$BUILD_DIR/server/lmeye" serve "$@"

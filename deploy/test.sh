#!/usr/bin/env bash
# Builds LMEye Serve and runs the whole test suite (GoogleTest under ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/build.sh
BUILD_DIR="${LMEYE_BUILD_DIR:-build}"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" "$@"

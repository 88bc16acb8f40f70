#!/usr/bin/env bash
# Configures and builds LMEye Serve into ./build (Release flags, ninja, ccache when present).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
BUILD_DIR="${LMEYE_BUILD_DIR:-build}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja
fi
# Each torch translation unit takes ~1.5 GB of memory to compile: cap the jobs by memory too.
jobs=$(nproc)
mem_gb=$(awk '/MemAvailable/ {print int($2 / 1048576)}' /proc/meminfo)
if [ "$mem_gb" -lt $((jobs * 2)) ]; then jobs=$(( mem_gb / 2 > 0 ? mem_gb / 2 : 1 )); fi
cmake --build "$BUILD_DIR" -j "$jobs"

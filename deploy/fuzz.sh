#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang under ASan + UBSan in build-fuzz and fuzzes
# each for FUZZ_SECONDS (default 15) from a copy of its seed corpus: ctest -L fuzz. A crash, leak,
# sanitizer report or timeout fails its test and leaves the input in
# build-fuzz/tests/fuzz/work/<name>/. Extra arguments go to ctest (e.g. -R fuzz_safetensors).
#   FUZZ_SECONDS=60 bash deploy/fuzz.sh
# ccache is reused as in the main build (CMakeLists.txt sets the launcher).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${LMEYE_FUZZ_BUILD_DIR:-build-fuzz}"
export FUZZ_SECONDS="${FUZZ_SECONDS:-15}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLMEYE_FUZZ=ON
ninja -C "$BUILD_DIR" ${LMEYE_FUZZ_JOBS:+-j "$LMEYE_FUZZ_JOBS"} fuzzers
cd "$BUILD_DIR"
# One libFuzzer process per core: each fuzzes on one thread.
ctest -L fuzz --output-on-failure -j "$(nproc)" "$@"

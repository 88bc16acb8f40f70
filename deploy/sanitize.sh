#!/usr/bin/env bash
# The torch-free suites (ctest -L torchfree: tokenizer, image decoding, metrics, config, the gRPC
# edge, the client, file utilities) under AddressSanitizer + UndefinedBehaviorSanitizer with leak
# checking. Configures ./build-asan with -DLMEYE_SANITIZE=ON, which builds no libtorch code (libtorch
# is not instrumented), then builds and runs those tests. Exits non-zero on a build failure, a test
# failure or any sanitizer report (each one aborts its test).
#   LMEYE_ASAN_BUILD_DIR  build folder (default build-asan)
#   extra arguments       passed to ctest (e.g. -R tokenizer)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${LMEYE_ASAN_BUILD_DIR:-build-asan}"
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  # clang compiles these sources about 2-3x faster than GCC does with the sanitizers on; either
  # works. ccache is picked up by CMakeLists.txt as in the main build.
  compiler=()
  if command -v clang++ > /dev/null; then compiler=(-DCMAKE_CXX_COMPILER=clang++); fi
  cmake -S . -B "$BUILD_DIR" -G Ninja -DLMEYE_SANITIZE=ON "${compiler[@]}"
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"

# abort_on_error / halt_on_error: the first report fails the test.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$BUILD_DIR"
ctest -L torchfree --output-on-failure -j "$(nproc)" "$@"

#!/usr/bin/env bash
# Builds LMEye Serve and runs every test: what CI runs (.ci/run). Three steps, each timed:
#   suite     deploy/build.sh, then the whole GoogleTest suite under ctest in ./build
#   sanitize  deploy/sanitize.sh: the torch-free suites under ASan + UBSan (./build-asan)
#   fuzz      deploy/fuzz.sh: every libFuzzer target for FUZZ_SECONDS each (./build-fuzz)
# All steps run even when one fails; the exit status is non-zero if any failed, and a summary of
# each step's status and wall time is printed last.
#   LMEYE_TEST_SANITIZE=0  skip the sanitizer step (a quick local run)
#   LMEYE_TEST_FUZZ=0      skip the fuzzing step
#   FUZZ_SECONDS           seconds per fuzz target (default here 10; fuzz.sh alone: 15)
#   extra arguments        passed to the suite's ctest only (e.g. -R tokenizer)
# The sanitizer and fuzz builds use clang (deploy/setup.sh installs it) and the ccache the main
# build uses (their entries are their own: other compiler, other flags). Step times: README.
set -uo pipefail
cd "$(dirname "$0")/.."

summary=()
failed=0
# step NAME COMMAND...: runs the command, records its status and wall time.
step() {
  local name=$1
  shift
  local start status
  start=$(date +%s)
  echo "=== test.sh: $name ==="
  "$@"
  status=$?
  local seconds=$(( $(date +%s) - start ))
  if [ "$status" -eq 0 ]; then
    summary+=("$(printf '%-9s ok      %5d s' "$name" "$seconds")")
  else
    summary+=("$(printf '%-9s FAILED  %5d s (exit %d)' "$name" "$seconds" "$status")")
    failed=1
  fi
  return "$status"
}

suite() {
  bash deploy/build.sh || return
  (cd "${LMEYE_BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)" "$@")
}

step suite suite "$@"
if [ "${LMEYE_TEST_SANITIZE:-1}" != 0 ]; then
  step sanitize bash deploy/sanitize.sh
fi
if [ "${LMEYE_TEST_FUZZ:-1}" != 0 ]; then
  export FUZZ_SECONDS="${FUZZ_SECONDS:-10}"
  step fuzz bash deploy/fuzz.sh
fi

echo "=== test.sh: summary ==="
printf '%s\n' "${summary[@]}"
exit "$failed"

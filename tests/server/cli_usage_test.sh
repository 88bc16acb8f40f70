#!/usr/bin/env bash
# `lmeye init-model` and `lmeye verify` usage errors (server/modes/cli_flags.h): a flag given last
# without its value exits 2 naming the flag (before: verify called it an unknown argument, and
# init-model went on with an empty value), and --flag=value is accepted like --flag value.
#   tests/server/cli_usage_test.sh LMEYE_BINARY
set -uo pipefail
LMEYE="$1"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fail=0
expect() {  # expect CODE TEXT ARGS...: the exit code and a line of stderr
  local code=$1 text=$2
  shift 2
  "$LMEYE" "$@" >/dev/null 2>"$log"
  local got=$?
  if [ "$got" != "$code" ] || ! grep -qF -- "$text" "$log"; then
    echo "FAIL: lmeye $*: exit $got (want $code), stderr:" >&2
    cat "$log" >&2
    fail=1
  fi
}
expect 2 "lmeye init-model: --seed needs a value" init-model --family opt --seed
expect 2 "lmeye init-model: --seed must be a non-negative integer, got \"x\"" \
  init-model --family=opt --seed=x
expect 2 "lmeye init-model: --dtype: " init-model --dtype=f64
expect 2 "lmeye verify: --model needs a value" verify --model
expect 2 "lmeye verify: --tolerance must be a non-negative number, got \"-1\"" \
  verify --model=/nonexistent --tolerance=-1
expect 2 "lmeye verify: unknown argument \"--modle\"" verify --modle x
exit $fail

#!/usr/bin/env bash
# The `lmeye` modes' usage errors (one flag mechanism, model/common/flags.h): exit 2 naming the
# flag, for a flag given last without its value, a value that is another flag, a bad number, an
# unknown flag and a missing required flag; --flag=value is accepted like --flag value; --help
# exits 0 with the flag list made from the mode's table.
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
expect_help() {  # expect_help TEXT MODE...: --help exits 0 and prints TEXT on stdout
  local text=$1
  shift
  local out
  out=$("$LMEYE" "$@" --help 2>/dev/null)
  local got=$?
  if [ "$got" != 0 ] || ! grep -qF -- "$text" <<<"$out"; then
    echo "FAIL: lmeye $* --help: exit $got (want 0), no \"$text\" in:" >&2
    echo "$out" >&2
    fail=1
  fi
}
expect 2 "lmeye init-model: --seed needs a value" init-model --family opt --seed
expect 2 "lmeye init-model: --seed needs a value" init-model --seed --family opt
expect 2 "lmeye init-model: --seed: expected a non-negative integer, got \"x\"" \
  init-model --family=opt --seed=x
expect 2 "lmeye init-model: --dtype: " init-model --dtype=f64
expect 2 "lmeye init-model: --family, --tokenizer and --out are required" init-model --family opt
expect 2 "lmeye verify: --model needs a value" verify --model
expect 2 "lmeye verify: --tolerance: expected a non-negative number, got \"-1\"" \
  verify --model=/nonexistent --tolerance=-1
expect 2 "lmeye verify: unknown flag --modle" verify --modle x
expect 2 "lmeye verify: --model is required" verify
expect 2 "lmeye bench: --decode-steps: expected a positive integer, got \"0\"" \
  bench --model m --decode-steps 0
expect 2 "lmeye bench: --json takes no value" bench --model m --json=1
expect 2 "lmeye serve: --workers needs a value" serve --workers --threads 1
expect 2 "lmeye serve: unknown flag --worker" serve --worker 2
expect 2 "lmeye serve: --set: expected KEY=VALUE, got \"x\"" serve --set x
expect 2 "lmeye serve: --workers: workers: expected an integer, got \"two\"" serve --workers two
expect_help "--decode-steps N" bench
expect_help "--tokenizer DIR" init-model
expect_help "--tolerance T" verify
expect_help "--ports-file FILE" serve
expect_help "--listen HOST:PORT" serve
exit $fail

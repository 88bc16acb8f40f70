#!/usr/bin/env bash
# deploy/eval-demo.sh end to end on a random tiny model and a 30-image shapes set: exit 0, every
# report and predictions file written, and a table whose every cell holds a number (a random
# model scores about 0; what is checked is the plumbing, not the numbers). About 10 s on 2 cores.
#   tests/synth/eval_demo_test.sh LMEYE_BIN LMEYE_CLIENT_BIN
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 LMEYE_BIN LMEYE_CLIENT_BIN" >&2; exit 2; }
lmeye=$1
client=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$lmeye" init-model --family opt --preset tiny --clip-preset tiny \
  --tokenizer "$root/tests/data/tokenizers/gpt2" --out "$work/model" >"$work/init.log" 2>&1 ||
  { cat "$work/init.log" >&2; fail "init-model"; }
# Seed 2's first 30 scenes ask every kind of question.
"$lmeye" data shapes --out "$work/data" --n 30 --seed 2 >"$work/data.log" 2>&1 ||
  { cat "$work/data.log" >&2; fail "data shapes"; }

rc=0
LMEYE_BIN=$lmeye LMEYE_CLIENT_BIN=$client EVAL_THREADS=1 \
  bash "$root/deploy/eval-demo.sh" "$work/model" "$work/data" "$work/out" \
  >"$work/table.txt" 2>"$work/eval.log" || rc=$?
cat "$work/table.txt"
[ "$rc" -eq 0 ] || { cat "$work/eval.log" >&2; fail "eval-demo.sh exited $rc"; }

for task in vqa choice describe; do
  for mode in ipn ipn-star; do
    [ -s "$work/out/$task-$mode.report.json" ] || fail "no $task-$mode.report.json"
    [ -s "$work/out/$task-$mode.predictions.json" ] || fail "no $task-$mode.predictions.json"
  done
done
cmp -s "$work/table.txt" "$work/out/table.md" || fail "table.md differs from the printed table"

# 11 metric rows, every cell a number, and no server left behind.
rows=$(grep -c '^| [A-Za-z]' "$work/table.txt" || true)
[ "$rows" -eq 12 ] || fail "expected a header and 11 metric rows, got $rows lines"
grep -q 'n/a' "$work/table.txt" && fail "a cell is empty"
for label in color shape size count exist spatial match overall multiple-choice BLEU-4 CIDEr; do
  grep -q -- "$label" "$work/table.txt" || fail "no row for $label"
done
grep -E '^\| [A-Za-z]' "$work/table.txt" | tail -n +2 >"$work/rows.txt"
if grep -vqE '\| -?[0-9]+\.[0-9]{2} \| -?[0-9]+\.[0-9]{2} \| [+-][0-9]+\.[0-9]{2} \|$' \
  "$work/rows.txt"; then
  fail "a row is not three numbers"
fi
port=$(cut -d' ' -f1 "$work/out/ports")
if "$client" info --server "127.0.0.1:$port" --timeout 2 >/dev/null 2>&1; then
  fail "the server still answers after the script ended"
fi
echo "PASS"

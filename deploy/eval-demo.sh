#!/usr/bin/env bash
# The demo evaluation: one LMEye model on a shapes-world evaluation set, with interaction (IPN)
# and without (IPN*, the static visual prefix), in one run and on one server.
#
#   deploy/eval-demo.sh MODEL_DIR DATA_DIR [OUT_DIR]
#
# DATA_DIR is a `lmeye data shapes` directory (its eval_vqa.jsonl, eval_choice.jsonl and
# eval_describe.jsonl; model/synth/shapes_dataset.h). Evaluate on a held-out set: a run with
# another --seed than the training data's, e.g.
#   build/server/lmeye data shapes --out /data/shapes-test --n 500 --seed 1
# Builds nothing: expects build/server/lmeye and build/client/lmeye_client (deploy/build.sh).
# Starts `lmeye serve --model MODEL_DIR` on a free loopback port, runs `lmeye_client eval` for
# vqa, choice and describe, each with and without --no-interaction, writes every report and
# predictions file into OUT_DIR (default: ./eval-demo-<time>), and prints one markdown table
# (also OUT_DIR/table.md): VQA accuracy per question kind and overall, multiple-choice
# accuracy, BLEU-4 and CIDEr of the descriptions; columns IPN, IPN*, IPN - IPN*. The exit code
# is 0 only when every item of every run was answered (a failed item is scored as an empty
# answer; the table is printed in every case).
#
# Environment (optional):
#   LMEYE_BUILD_DIR   build directory (default: build, under the repository)
#   LMEYE_BIN, LMEYE_CLIENT_BIN   the binaries (default: under LMEYE_BUILD_DIR)
#   EVAL_LIMIT        only the first N items of each file (default: all)
#   EVAL_THREADS      the server's CPU threads (default 0: every core)
#   EVAL_DEVICE       the server's --device (default cpu); EVAL_DTYPE its --dtype (default fp32)
#   EVAL_CONCURRENCY  requests in flight (default 8)
#   EVAL_VQA_TOKENS   --max-new-tokens for vqa (default 8; answers are 1-3 words)
#   EVAL_DESCRIBE_TOKENS  --max-new-tokens for describe (default 96; the longest descriptions
#                     are about 60 words and punctuation marks)
#   EVAL_DESCRIBE_BEAMS   --num-beams for describe (default 1, greedy: see below)
#   EVAL_METEOR       1: METEOR in the describe reports too (default 0; the table has no METEOR)
#
# Describe is greedy by default: the client's own default (5 beams) made describe 7 times
# slower on 2 CPU cores (30 images: 2 s -> 14 s on a tiny model), for little gain in a world of
# one-word attributes; IPN vs IPN* only needs both columns decoded the same way. Set
# EVAL_DESCRIBE_BEAMS=5 for the paper's setting.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
case "$1" in -h | --help) usage ;; esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODEL=$1
DATA=$2
OUT=${3:-eval-demo-$(date +%Y%m%d-%H%M%S)}
BUILD_DIR=${LMEYE_BUILD_DIR:-$ROOT/build}
LMEYE=${LMEYE_BIN:-$BUILD_DIR/server/lmeye}
CLIENT=${LMEYE_CLIENT_BIN:-$BUILD_DIR/client/lmeye_client}

for f in "$LMEYE" "$CLIENT"; do
  [ -x "$f" ] || { echo "eval-demo: $f not found: build first (deploy/build.sh)" >&2; exit 1; }
done
[ -d "$MODEL" ] || { echo "eval-demo: no model directory $MODEL" >&2; exit 1; }
for task in vqa choice describe; do
  [ -s "$DATA/eval_$task.jsonl" ] || {
    echo "eval-demo: $DATA/eval_$task.jsonl missing: make DATA_DIR with lmeye data shapes" >&2
    exit 1
  }
done
mkdir -p "$OUT"

pid=
stop_server() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

rm -f "$OUT/ports"
"$LMEYE" serve --model "$MODEL" --listen 127.0.0.1:0 --metrics-listen "" \
  --device "${EVAL_DEVICE:-cpu}" --dtype "${EVAL_DTYPE:-fp32}" --threads "${EVAL_THREADS:-0}" \
  --ports-file "$OUT/ports" >"$OUT/server.log" 2>&1 &
pid=$!
# The ports file appears once the model is loaded and the server is serving.
for _ in $(seq 1 1500); do
  [ -s "$OUT/ports" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
if [ ! -s "$OUT/ports" ]; then
  echo "eval-demo: the server did not start; $OUT/server.log:" >&2
  tail -n 30 "$OUT/server.log" >&2
  exit 1
fi
server=127.0.0.1:$(cut -d' ' -f1 "$OUT/ports")
echo "eval-demo: lmeye serve --model $MODEL on $server; reports in $OUT" >&2

common=(--server "$server" --concurrency "${EVAL_CONCURRENCY:-8}" --no-progress)
[ -n "${EVAL_LIMIT:-}" ] && common+=(--limit "$EVAL_LIMIT")
failed=0
for task in vqa choice describe; do
  case $task in
    vqa) flags=(--max-new-tokens "${EVAL_VQA_TOKENS:-8}" --stop $'\n') ;;
    choice) flags=() ;;
    describe)
      flags=(--max-new-tokens "${EVAL_DESCRIBE_TOKENS:-96}" --num-beams "${EVAL_DESCRIBE_BEAMS:-1}")
      [ "${EVAL_METEOR:-0}" = 1 ] || flags+=(--no-meteor)
      ;;
  esac
  for mode in ipn ipn-star; do
    extra=()
    [ "$mode" = ipn-star ] && extra=(--no-interaction)
    start=$SECONDS
    rc=0
    "$CLIENT" eval --task "$task" --data "$DATA/eval_$task.jsonl" "${common[@]}" \
      ${flags[@]+"${flags[@]}"} ${extra[@]+"${extra[@]}"} \
      --predictions "$OUT/$task-$mode.predictions.json" --report "$OUT/$task-$mode.report.json" \
      >"$OUT/$task-$mode.txt" 2>"$OUT/$task-$mode.log" || rc=$?
    echo "eval-demo: $task $mode: exit $rc, $((SECONDS - start)) s" >&2
    if [ "$rc" -ne 0 ]; then
      failed=1
      tail -n 5 "$OUT/$task-$mode.log" >&2
      [ -s "$OUT/$task-$mode.report.json" ] || { echo "eval-demo: no report" >&2; exit 1; }
    fi
  done
done
stop_server

python3 - "$OUT" <<'PY' | tee "$OUT/table.md"
import json, os, sys

out = sys.argv[1]
def report(task, mode):
    with open(os.path.join(out, f"{task}-{mode}.report.json")) as f:
        return json.load(f)

rows = []  # (label, value in IPN report, value in IPN* report, decimals)
def add(label, task, get, scale=1.0):
    values = []
    for mode in ("ipn", "ipn-star"):
        try:
            values.append(get(report(task, mode)) * scale)
        except (KeyError, TypeError):
            values.append(None)
    rows.append((label, values))

kinds = ("color", "shape", "size", "count", "exist", "spatial", "match")
for kind in kinds:
    add(f"VQA accuracy: {kind} (%)", "vqa",
        lambda r, k=kind: r["breakdowns"]["perQuestionType"][k])
add("VQA accuracy: overall (%)", "vqa", lambda r: r["metrics"]["accuracy"])
add("multiple-choice accuracy (%)", "choice", lambda r: r["metrics"]["accuracy"])
add("describe BLEU-4 (x100)", "describe", lambda r: r["metrics"]["Bleu_4"], 100.0)
add("describe CIDEr (x100)", "describe", lambda r: r["metrics"]["CIDEr"], 100.0)

def cell(v, sign=""):
    # Rounded first, so the difference is that of the printed values and never "-0.00".
    return "n/a" if v is None else f"{round(v, 2) + 0.0:{sign}.2f}"
print("| metric | IPN | IPN* | IPN - IPN* |")
print("| --- | ---: | ---: | ---: |")
for label, (ipn, star) in rows:
    diff = None if ipn is None or star is None else round(ipn, 2) - round(star, 2)
    print(f"| {label} | {cell(ipn)} | {cell(star)} | {cell(diff, '+')} |")
n = {t: report(t, "ipn")["n_items"] for t in ("vqa", "choice", "describe")}
print(f"\n{n['vqa']} VQA questions, {n['choice']} choice questions, {n['describe']} images.")
PY
exit "$failed"

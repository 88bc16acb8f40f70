#!/usr/bin/env bash
# The shipped demo model with int8 weights (`--dtype int8`) against itself in bf16: the same
# fresh questions (VQA and multiple choice, with interaction) served twice, answer by answer.
# Quantizing the LLM's weights must leave the answers as they were: at least MIN_AGREE of them
# identical, and each task's accuracy within MAX_DROP points of bf16's. Measured on one machine:
# 97.6% of 462 VQA answers and 39 of 40 choices identical, VQA accuracy 66.23 -> 65.15. The
# answers that change are near-ties, which another CPU's summation order may tip differently:
# the bounds leave room for one or two more.
#   tests/synth/demo_int8_test.sh LMEYE_BIN LMEYE_CLIENT_BIN
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 LMEYE_BIN LMEYE_CLIENT_BIN" >&2; exit 2; }
lmeye=$1
client=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
model="$root/model/demo"
N_SCENES="${N_SCENES:-40}"
SEED="${SEED:-515151}"
MIN_AGREE="${MIN_AGREE:-0.94}"
MAX_DROP="${MAX_DROP:-3}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$lmeye" data shapes --out "$work/data" --n "$N_SCENES" --seed "$SEED" >"$work/data.log" 2>&1 ||
  { cat "$work/data.log" >&2; echo "FAIL: data shapes" >&2; exit 1; }
# Only what is compared: no describe, no IPN* pass.
cat >"$work/eval.sh" <<EOF
set -euo pipefail
server=\$1; out=\$2
for task in vqa choice; do
  flags=()
  [ "\$task" = vqa ] && flags=(--max-new-tokens 8 --stop \$'\\n')
  "$client" eval --task "\$task" --data "$work/data/eval_\$task.jsonl" --server "\$server" \
    --concurrency 8 --no-progress \${flags[@]+"\${flags[@]}"} \
    --predictions "\$out/\$task.predictions.json" --report "\$out/\$task.report.json" >/dev/null
done
EOF
for dtype in bf16 int8; do
  out="$work/$dtype"
  mkdir -p "$out"
  "$lmeye" serve --model "$model" --listen 127.0.0.1:0 --metrics-listen "" --dtype "$dtype" \
    --ports-file "$out/ports" >"$out/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do [ -s "$out/ports" ] && break; sleep 0.1; done
  [ -s "$out/ports" ] || { cat "$out/server.log" >&2; echo "FAIL: $dtype server" >&2; exit 1; }
  rc=0
  bash "$work/eval.sh" "127.0.0.1:$(cut -d' ' -f1 "$out/ports")" "$out" || rc=$?
  kill -TERM "$pid"
  wait "$pid" || true
  [ "$rc" -eq 0 ] || { echo "FAIL: $dtype eval exited $rc" >&2; exit 1; }
  grep -q "($dtype)" "$out/server.log" || { cat "$out/server.log" >&2; echo "FAIL: not $dtype" >&2; exit 1; }
done

python3 - "$work" "$MIN_AGREE" "$MAX_DROP" <<'PY'
import json, sys
work, min_agree, max_drop = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
bad = []
for task in ("vqa", "choice"):
    preds = {}
    for dtype in ("bf16", "int8"):
        records = json.load(open(f"{work}/{dtype}/{task}.predictions.json"))
        preds[dtype] = {r["question_id"]: r["answer"] for r in records}
    ids = sorted(preds["bf16"])
    if sorted(preds["int8"]) != ids or not ids:
        bad.append(f"{task}: the two runs answered different questions")
        continue
    same = sum(preds["bf16"][i] == preds["int8"][i] for i in ids) / len(ids)
    acc = {d: json.load(open(f"{work}/{d}/{task}.report.json"))["metrics"]["accuracy"]
           for d in ("bf16", "int8")}
    print(f"{task:7s} {len(ids)} questions: {100 * same:.1f}% identical answers; accuracy bf16 "
          f"{acc['bf16']:.2f}, int8 {acc['int8']:.2f}")
    if same < min_agree:
        bad.append(f"{task}: {100 * same:.1f}% identical, below {100 * min_agree:.0f}%")
    if acc["int8"] < acc["bf16"] - max_drop:
        bad.append(f"{task}: accuracy {acc['int8']:.2f} is over {max_drop} points under bf16's")
for b in bad:
    print("FAIL:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

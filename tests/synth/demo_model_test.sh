#!/usr/bin/env bash
# The shipped demo model end to end (issue 6): `lmeye serve` on model/demo, questions over gRPC
# about freshly generated scenes (a seed the recipe never trains on), and the answers right at the
# rate model/demo/eval.json (the model card's numbers) claims, within a stated margin.
#   tests/synth/demo_model_test.sh LMEYE_BIN LMEYE_CLIENT_BIN
# The margin: each kind is scored on about N_SCENES questions (fewer for spatial), so a binomial
# standard deviation of at most sqrt(0.25 / 60) = 6.5 points; the test allows MARGIN (15) points
# below the claim, over two standard deviations.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 LMEYE_BIN LMEYE_CLIENT_BIN" >&2; exit 2; }
lmeye=$1
client=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
model="$root/model/demo"
N_SCENES="${N_SCENES:-60}"
MARGIN="${MARGIN:-15}"
SEED="${SEED:-424242}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[ -s "$model/eval.json" ] || fail "no $model/eval.json"

"$lmeye" data shapes --out "$work/data" --n "$N_SCENES" --seed "$SEED" >"$work/data.log" 2>&1 ||
  { cat "$work/data.log" >&2; fail "data shapes"; }
rc=0
LMEYE_BIN=$lmeye LMEYE_CLIENT_BIN=$client \
  bash "$root/deploy/eval-demo.sh" "$model" "$work/data" "$work/out" \
  >"$work/table.txt" 2>"$work/eval.log" || rc=$?
cat "$work/table.txt"
[ "$rc" -eq 0 ] || { cat "$work/eval.log" >&2; fail "eval-demo.sh exited $rc"; }

python3 - "$model/eval.json" "$work/out" "$MARGIN" <<'PY'
import json, os, sys
claims = json.load(open(sys.argv[1]))["ipn"]
out, margin = sys.argv[2], float(sys.argv[3])
vqa = json.load(open(os.path.join(out, "vqa-ipn.report.json")))
choice = json.load(open(os.path.join(out, "choice-ipn.report.json")))
measured = {f"vqa_{k}": v for k, v in vqa["breakdowns"]["perQuestionType"].items()}
measured["vqa_overall"] = vqa["metrics"]["accuracy"]
measured["choice"] = choice["metrics"]["accuracy"]
bad = []
for key, claim in claims.items():
    if key not in measured:
        bad.append(f"{key}: not measured")
        continue
    ok = measured[key] >= claim - margin
    print(f"{key:14s} claimed {claim:6.2f}  measured {measured[key]:6.2f}  {'ok' if ok else 'LOW'}")
    if not ok:
        bad.append(f"{key}: {measured[key]:.2f} < {claim:.2f} - {margin}")
if bad:
    print("FAIL: " + "; ".join(bad), file=sys.stderr)
    sys.exit(1)
print("PASS")
PY

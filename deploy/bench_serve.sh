#!/usr/bin/env bash
# Serving benchmark: `lmeye_client load` against `lmeye serve` at 1, 8 and 32 concurrent clients,
# on one model, in one run (ratios between the rows are what to compare on a noisy machine).
#   deploy/bench_serve.sh MODEL_DIR [DTYPE=bf16] [NEW_TOKENS=128]
# Make the issue's model with:
#   build/server/lmeye init-model --family opt --preset 125m --clip-preset vit-b-32 \
#       --tokenizer tests/data/tokenizers/gpt2 --out /tmp/opt125m
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:?usage: deploy/bench_serve.sh MODEL_DIR [DTYPE] [NEW_TOKENS]}"
DTYPE="${2:-bf16}"
NEW="${3:-128}"
BUILD_DIR="${LMEYE_BUILD_DIR:-build}"
work=$(mktemp -d)
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT
"$BUILD_DIR/server/lmeye" serve --model "$MODEL" --dtype "$DTYPE" --listen 127.0.0.1:0 \
  --metrics-listen "" --set scheduler.max_running=32 --ports-file "$work/ports" \
  >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -s "$work/ports" ] && break; sleep 0.2; done
[ -s "$work/ports" ] || { cat "$work/server.log"; exit 1; }
port=$(cut -d' ' -f1 "$work/ports")
printf "%-8s %14s %12s %12s %12s\n" clients "gen tokens/s" "TTFT p50 s" "TTFT p99 s" "e2e p50 s"
for c in 1 8 32; do
  n=$(( c * 4 < 8 ? 8 : c * 4 ))
  "$BUILD_DIR/client/lmeye_client" load --server "127.0.0.1:$port" --concurrency "$c" \
    --requests "$n" --warmup "$c" --images tests/data/images/chelsea.png \
    --images tests/data/images/astronaut.jpg --max-new-tokens "$NEW" --ignore-eos --json \
    >"$work/load-$c.json"
  python3 - "$work/load-$c.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t, e = d["time_to_first_token_seconds"], d["end_to_end_seconds"]
print(f"{d['concurrency']:<8} {d['generated_tokens_per_second']:14.1f} {t['p50']:12.3f} {t['p99']:12.3f} {e['p50']:12.2f}")
PY
done

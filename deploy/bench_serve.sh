#!/usr/bin/env bash
# Serving benchmark on one model, in one run (ratios between the rows are what to compare on a
# noisy machine):
#  1. `lmeye bench`'s batch-32 decode rate (the model alone, the server's KV layout), then
#     `lmeye serve` under `lmeye_client load` at 1, 8 and 32 concurrent streaming chats: tokens/s,
#     time to first token, inter-token latency. The 32-client rate over the bench rate is the
#     share the server keeps (target >= 0.90); where the server's time went during that run comes
#     from its step-time metrics: decode steps (and the model's rate inside them), the prompt
#     phases, and the rest (sampling, detokenizing, streaming, the loop).
#  2. 31 streaming chats alone, then beside one client sending beam-search Describes (num_beams 5)
#     back to back: the chats' inter-token latency (p50, p99) without and with them.
#   deploy/bench_serve.sh MODEL_DIR [DTYPE=bf16] [NEW_TOKENS=128]
# LMEYE_BUILD_DIR (default build) gives lmeye_client and lmeye; LMEYE_SERVE_BIN another lmeye
# binary to bench and serve (an older build, measured with the same client).
# Make the issue's models with:
#   build/server/lmeye init-model --family llama --preset 125m --clip-preset vit-b-32 \
#       --tokenizer tests/data/tokenizers/llama_spm --out /tmp/llama125m
#   build/server/lmeye init-model --family opt --preset 125m --clip-preset vit-b-32 \
#       --tokenizer tests/data/tokenizers/gpt2 --out /tmp/opt125m
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:?usage: deploy/bench_serve.sh MODEL_DIR [DTYPE] [NEW_TOKENS]}"
DTYPE="${2:-bf16}"
NEW="${3:-128}"
BUILD_DIR="${LMEYE_BUILD_DIR:-build}"
LMEYE="${LMEYE_SERVE_BIN:-$BUILD_DIR/server/lmeye}"
CLIENT="$BUILD_DIR/client/lmeye_client"
BEAMS=5
# 31 chats + a Describe's 5 beams run at once; the KV slot layout (1024 positions) is the bench's.
MAX_RUNNING=36
POSITIONS=1024
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; [ -n "$pid" ] && wait "$pid" 2>/dev/null; rm -rf "$work"' EXIT

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; model $MODEL, $DTYPE, $NEW new tokens"
"$LMEYE" bench --model "$MODEL" --dtype "$DTYPE" --batch-sizes 32 --kv-capacity "$POSITIONS" \
  --json >"$work/bench.json"

"$LMEYE" serve --model "$MODEL" --dtype "$DTYPE" --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 --set scheduler.max_running=$MAX_RUNNING \
  --set scheduler.max_sequence_positions=$POSITIONS --ports-file "$work/ports" \
  >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do [ -s "$work/ports" ] && break; sleep 0.2; done
[ -s "$work/ports" ] || { cat "$work/server.log"; exit 1; }
port=$(cut -d' ' -f1 "$work/ports")
metrics_port=$(cut -d' ' -f2 "$work/ports")

scrape() { python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(
  'http://127.0.0.1:$metrics_port/metrics', timeout=10).read().decode())" >"$1"; }
# load NAME CLIENTS REQUESTS WARMUP [extra lmeye_client flags]
load() {
  local name=$1 c=$2 n=$3 warmup=$4
  shift 4
  "$CLIENT" load --server "127.0.0.1:$port" --concurrency "$c" --requests "$n" --warmup "$warmup" \
    --images tests/data/images/chelsea.png --images tests/data/images/astronaut.jpg \
    --max-new-tokens "$NEW" --ignore-eos --json "$@" >"$work/$name.json"
}

printf "%-8s %14s %12s %12s %12s %12s\n" clients "gen tokens/s" "TTFT p50 s" "TTFT p99 s" \
  "ITL p99 ms" "e2e p50 s"
for c in 1 8 32; do
  n=$(( c * 4 < 8 ? 8 : c * 4 ))
  if [ "$c" = 32 ]; then
    # Warmed up apart, so that the server's metrics cover the measured requests only.
    load warmup-32 32 32 0
    scrape "$work/metrics-before"
    load "load-$c" "$c" "$n" 0
    scrape "$work/metrics-after"
  else
    load "load-$c" "$c" "$n" "$c"
  fi
  python3 - "$work/load-$c.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
t, e, i = d["time_to_first_token_seconds"], d["end_to_end_seconds"], d["inter_token_seconds"]
print(f"{d['concurrency']:<8} {d['generated_tokens_per_second']:14.1f} {t['p50']:12.3f} "
      f"{t['p99']:12.3f} {i['p99'] * 1e3:12.1f} {e['p50']:12.2f}")
PY
done

python3 - "$work/bench.json" "$work/load-32.json" "$work/metrics-before" "$work/metrics-after" <<'PY'
import json, re, sys
bench = json.load(open(sys.argv[1]))
load = json.load(open(sys.argv[2]))
def series(path):
    out = {}
    for line in open(path):
        m = re.match(r'(lmeye_\w+)\{([^}]*)\} (\S+)$', line.strip())
        if m:
            phase = re.search(r'phase="(\w+)"', m.group(2))
            if phase:
                key = (m.group(1), phase.group(1))
                out[key] = out.get(key, 0.0) + float(m.group(3))
    return out
before, after = series(sys.argv[3]), series(sys.argv[4])
delta = lambda name, phase: after.get((name, phase), 0.0) - before.get((name, phase), 0.0)
b32 = bench["decode_tokens_per_s"]["32"]
served = load["generated_tokens_per_second"]
print(f"\n(a) 32 clients over gRPC {served:.1f} tokens/s = {served / b32:.3f} x lmeye bench batch 32 "
      f"({b32:.1f} tokens/s; target >= 0.90)")
wall = load["wall_seconds"]
phases = ["vision", "first_pass", "interaction", "second_pass", "decode", "beam_search"]
seconds = {p: delta("lmeye_step_duration_seconds_sum", p) for p in phases}
rows = delta("lmeye_batch_size_sum", "decode")
steps = delta("lmeye_step_duration_seconds_count", "decode")
rest = wall - sum(seconds.values())
print(f"    the server meanwhile: {steps:.0f} decode steps of {rows / max(steps, 1):.1f} rows, the "
      f"model at {rows / max(seconds['decode'], 1e-9):.1f} rows/s inside them "
      f"({rows / max(seconds['decode'], 1e-9) / b32:.3f} x bench)")
print(f"    its {wall:.2f} s: " +
      ", ".join(f"{p} {seconds[p]:.2f} s" for p in phases if seconds[p] > 0) +
      f", the rest (sampling, text, streaming, loop) {rest:.2f} s")
PY

printf "\n(b) 31 streaming chats, inter-token latency, without and beside Describes (num_beams %d)\n" "$BEAMS"
printf "%-18s %12s %12s %12s %14s %10s\n" run "ITL p50 ms" "ITL p99 ms" "ITL max ms" "gen tokens/s" "describes"
load chats-alone 31 124 31
load chats-beside 31 124 31 --side-describe-beams "$BEAMS"
python3 - "$work/chats-alone.json" "$work/chats-beside.json" <<'PY'
import json, sys
for name, path in (("chats alone", sys.argv[1]), ("beside Describes", sys.argv[2])):
    d = json.load(open(path))
    i = d["inter_token_seconds"]
    side = d.get("side_describe", {}).get("requests_ok", 0)
    print(f"{name:<18} {i['p50'] * 1e3:12.1f} {i['p99'] * 1e3:12.1f} {i['max'] * 1e3:12.1f} "
          f"{d['generated_tokens_per_second']:14.1f} {side:10d}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

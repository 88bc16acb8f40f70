#!/usr/bin/env bash
# Our decode/prefill speed beside llama.cpp and PyTorch eager, on the same random LLaMA, in one
# run: `lmeye bench` (bf16, int8, fp32), llama.cpp through node-llama-cpp's prebuilt CPU binaries
# (f16, bf16, q8_0 GGUF files written by `lmeye export-gguf`) and PyTorch eager (Debian's
# python3-torch, bf16). The stacks run alternately, --repeats times each, with the same thread
# count, prompt lengths and decode steps; the table gives median (min-max). The read bandwidth
# that `lmeye bench` measures in each of its runs gives the roofline: bs1 % = decode tokens/s at
# batch 1 / (bandwidth / weight bytes read per token of that stack's file).
# Also checks that llama.cpp computes our model: greedy tokens on the f32 GGUF (and each other
# type) against lmeye's own, on one prompt.
#
#   deploy/bench_peers.sh [--shape 125m|1.1b] [--repeats N] [--threads N] [--types "f16 bf16 q8_0"]
#
# Builds nothing: expects build/server/lmeye (LMEYE_BUILD_DIR). Needs node >= 18 and npm (the
# npm registry once, into ${XDG_CACHE_HOME:-~/.cache}/lmeye/peers); the PyTorch column needs
# `apt-get install python3-torch` and is skipped with a message without it.
set -euo pipefail
cd "$(dirname "$0")/.."
SHAPE=125m
REPEATS=2
THREADS=2
TYPES="f16 bf16 q8_0"
while [ $# -gt 0 ]; do
  case "$1" in
    --shape) SHAPE="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --types) TYPES="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench_peers.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$SHAPE" in
  # 125m: weights stored f32, so the f32 GGUF is exact, for the agreement check. 1.1b: fp32 runs
  # would double the run's time for a column the criteria do not use.
  125m) DTYPE=f32 LMEYE_DTYPES="bf16 int8 fp32" ;;
  1.1b) DTYPE=bf16 LMEYE_DTYPES="bf16 int8" ;;
  *) echo "bench_peers.sh: --shape 125m or 1.1b" >&2; exit 2 ;;
esac
PREFILL=512 PROMPT=64 STEPS=32 BATCHES=1,8,32
LMEYE="${LMEYE_BUILD_DIR:-build}/server/lmeye"
[ -x "$LMEYE" ] || { echo "bench_peers.sh: no $LMEYE (build it: ninja -C build lmeye)" >&2; exit 1; }
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/lmeye/peers"
MODEL="$CACHE/models/llama-$SHAPE"
RESULTS=$(mktemp -d)
trap 'rm -rf "$RESULTS"' EXIT
echo "load before: $(uptime)"

# node-llama-cpp: its prebuilt CPU binaries only (--ignore-scripts: no download, no build).
NLC_VERSION=3.22.1
NODE_MODULES="$CACHE/node/node_modules"
if [ ! -f "$NODE_MODULES/node-llama-cpp/package.json" ]; then
  command -v npm >/dev/null || { echo "bench_peers.sh: npm is needed for llama.cpp" >&2; exit 1; }
  platform=$(node -p 'process.platform + "-" + process.arch')
  mkdir -p "$CACHE/node"
  [ -f "$CACHE/node/package.json" ] || echo '{"private": true}' >"$CACHE/node/package.json"
  (cd "$CACHE/node" && npm install --ignore-scripts --omit=optional --no-audit --no-fund \
    "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/$platform@$NLC_VERSION" >&2)
fi
export LMEYE_PEERS_NODE_MODULES="$NODE_MODULES"

# Debian's python3-torch is in the system python3, which a python3 earlier on PATH may not be.
TORCH_PYTHON=""
for py in python3 /usr/bin/python3; do
  if "$py" -c 'import torch' 2>/dev/null; then TORCH_PYTHON="$py"; break; fi
done
[ -n "$TORCH_PYTHON" ] ||
  echo "bench_peers.sh: no PyTorch for python3; skipping its column (apt-get install python3-torch)"

# The model and its GGUF files, made once per shape.
if [ ! -f "$MODEL/adapter.json" ]; then
  "$LMEYE" init-model --family llama --preset "$SHAPE" --clip-preset tiny --dtype "$DTYPE" \
    --tokenizer tests/data/tokenizers/llama_spm --out "$MODEL"
fi
AGREE_TYPES="$TYPES"
[ "$SHAPE" = 125m ] && AGREE_TYPES="f32 $TYPES"
for t in $AGREE_TYPES; do
  if [ ! -f "$MODEL.$t.json" ]; then
    reference=()
    [ -f "$MODEL.reference.json" ] || reference=(--greedy-reference "$MODEL.reference.json")
    "$LMEYE" export-gguf --model "$MODEL" --type "$t" --out "$MODEL.$t.gguf" "${reference[@]}" \
      >"$MODEL.$t.json"
  fi
done

common=(--threads "$THREADS" --prefill-tokens "$PREFILL" --prompt-tokens "$PROMPT"
        --decode-steps "$STEPS" --batch-sizes "$BATCHES")
for r in $(seq 1 "$REPEATS"); do
  for dtype in $LMEYE_DTYPES; do
    echo "repeat $r: lmeye bench $dtype" >&2
    "$LMEYE" bench --model "$MODEL" --dtype "$dtype" "${common[@]}" --repeats 1 --json \
      2>/dev/null >"$RESULTS/lmeye-$dtype.$r.json" || echo "lmeye bench $dtype failed" >&2
  done
  if [ -n "$TORCH_PYTHON" ]; then
    echo "repeat $r: pytorch eager bf16" >&2
    "$TORCH_PYTHON" deploy/peers/torch_eager_bench.py --model "$MODEL" --dtype bf16 "${common[@]}" \
      --reference "$MODEL.reference.json" >"$RESULTS/torch-bf16.$r.json" ||
      echo "pytorch eager failed" >&2
  fi
  for t in $TYPES; do
    echo "repeat $r: llama.cpp $t" >&2
    reference=()
    [ "$r" = 1 ] && reference=(--reference "$MODEL.reference.json")
    node deploy/peers/llama_cpp_bench.mjs --model "$MODEL.$t.gguf" "${common[@]}" \
      "${reference[@]}" >"$RESULTS/llama.cpp-$t.$r.json" || echo "llama.cpp $t failed" >&2
  done
done
if [ "$SHAPE" = 125m ]; then  # the exact f32 file: agreement only
  node deploy/peers/llama_cpp_bench.mjs --model "$MODEL.f32.gguf" --threads "$THREADS" \
    --prefill-tokens 32 --batch-sizes 1 --decode-steps 2 --reference "$MODEL.reference.json" \
    >"$RESULTS/agree-f32.json" || echo "llama.cpp f32 agreement failed" >&2
fi
echo "load after: $(uptime)"
python3 deploy/peers/peers_table.py --shape "$SHAPE" --model "$MODEL" --results "$RESULTS"

#!/usr/bin/env bash
# The model library on a GPU: builds `lmeye` (offline modes, no gRPC) against the libtorch inside
# this machine's PyTorch, recomputes every shipped golden on CUDA, then runs `lmeye bench` on
# real-size random models (the paper's OPT-IML-1.3B + CLIP ViT-L/14 shape; LLaMA-7B if time
# allows) and reports tokens/s against the HBM roofline measured in the same run.
#
#   deploy/cuda_check.sh [OUT_DIR]
# Env: LMEYE_DEPS_PREFIX   a prefix holding abseil / nlohmann-json / OpenCV headers (usr/...) for
#                          machines without those packages; OpenCV is only needed for its headers.
#      LMEYE_CUDA_DEVICE   default cuda:0.   LMEYE_CHECK_BUDGET_S  skip the 7B bench past this.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${1:-/tmp/lmeye-cuda-check}"
DEVICE="${LMEYE_CUDA_DEVICE:-cuda:0}"
BUDGET_S="${LMEYE_CHECK_BUDGET_S:-330}"
BUILD="${LMEYE_CUDA_BUILD_DIR:-build-cuda}"
DEPS="${LMEYE_DEPS_PREFIX:-}"
mkdir -p "$OUT_DIR"
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
step() { echo "=== [$(elapsed) s] $*"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
g++ --version | head -1; cmake --version | head -1
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') || exit 1
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
            "cxx11abi", torch._C._GLIBCXX_USE_CXX11_ABI, torch.cuda.get_device_name(0))'
CXX_STD=$(python3 -c 'import torch; v=tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]); print(20 if v >= (2, 13) else 17)')

# c10d NCCL needs nccl.h, which PyTorch's wheels ship in the nvidia-nccl package, not in torch.
if [ -z "${NCCL_HOME:-}" ]; then
  NCCL_HOME=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null) &&
    export NCCL_HOME && echo "NCCL_HOME=$NCCL_HOME"
fi

prefix_path="$TORCH_PREFIX"
extra=()
if [ -n "$DEPS" ]; then
  prefix_path="$prefix_path;$DEPS/usr;$DEPS/usr/lib/x86_64-linux-gnu/cmake;$DEPS/usr/share/cmake"
  # Only OpenCV's headers: `lmeye`'s offline modes never call into OpenCV (image decoding is
  # the server's), so a config that names no libraries links.
  if [ -d "$DEPS/cmake/OpenCV" ]; then extra+=("-DOpenCV_DIR=$DEPS/cmake/OpenCV"); fi
  export LD_LIBRARY_PATH="$DEPS/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

step "configure (C++$CXX_STD)"
# --no-as-needed: nothing in our code names a libtorch_cuda symbol, and an as-needed link (the
# Ubuntu default) would drop it, leaving a binary that finds no CUDA backend.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLMEYE_BUILD_SERVER=OFF \
  -DLMEYE_BUILD_TESTS=OFF -DCMAKE_CXX_STANDARD="$CXX_STD" -DCMAKE_PREFIX_PATH="$prefix_path" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,--no-as-needed" "${extra[@]}" >"$OUT_DIR/configure.log" 2>&1 \
  || { tail -40 "$OUT_DIR/configure.log"; exit 1; }
step "build"
cmake --build "$BUILD" --target lmeye -j "$(nproc)" -- -k 0 >"$OUT_DIR/build.log" 2>&1 \
  || { grep -E "error|Error" "$OUT_DIR/build.log" | head -60; exit 1; }
LMEYE="$BUILD/server/lmeye"; [ -x "$LMEYE" ] || LMEYE="$BUILD/lmeye"  # top level when LMEYE_BUILD_SERVER=OFF

step "goldens on $DEVICE (fp32)"
status=0
"$LMEYE" verify --device "$DEVICE" $(for d in tests/data/models/*/; do echo --model "$d"; done) \
  >"$OUT_DIR/verify.txt" 2>&1 || status=1
grep -E "^(PASS|FAIL)|FAIL|max abs" "$OUT_DIR/verify.txt" | grep -vE "^  .* ok " | head -40
grep -cE " ok " "$OUT_DIR/verify.txt" | sed 's/^/goldens ok: /'

grep -E "c10d (Gloo|NCCL)" "$OUT_DIR/configure.log"

# IPN phase 1 on tiny random backbones on the GPU: the loss must fall, and a group of one with
# NCCL (dist_backend nccl; one GPU cannot hold two NCCL ranks) must give the same adapter bytes
# as the run without a group (the all-reduce of one rank is the identity).
train_check() {
  local dir=/tmp/lmeye-train-check
  if ! "$LMEYE" train --help >/dev/null 2>&1 || ! "$LMEYE" data --help >/dev/null 2>&1; then
    step "skipping the training check: this lmeye has no train/data modes (they need the" \
      "OpenCV libraries and yaml-cpp)"
    return 0
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  step "training on $DEVICE"
  "$LMEYE" data shapes --out "$dir/data" --n 64 --seed 1 >"$OUT_DIR/train-data.log" 2>&1 &&
    "$LMEYE" init-model --family opt --preset tiny --clip-preset tiny \
      --tokenizer tests/data/tokenizers/gpt2 --out "$dir/init" >"$OUT_DIR/train-init.log" 2>&1 ||
    { tail -5 "$OUT_DIR/train-data.log" "$OUT_DIR/train-init.log"; return 1; }
  for backend in auto nccl; do
    "$LMEYE" train --stage align --model "$dir/init" --data "$dir/data/captions.jsonl" \
      --output-dir "$dir/align-$backend" --device "$DEVICE" --dist-backend "$backend" \
      --batch-size 8 --max-steps 40 --lr 1e-3 --warmup-steps 2 --log-every 10 --seed 3 \
      >"$OUT_DIR/train-$backend.log" 2>&1 || { tail -20 "$OUT_DIR/train-$backend.log"; return 1; }
    python3 - "$dir/align-$backend/train_log.jsonl" "$backend" <<'PY' || return 1
import json, sys
steps = [json.loads(l) for l in open(sys.argv[1]) if '"loss"' in l]
first, last = steps[0], steps[-1]
print(f"align on the GPU ({sys.argv[2]}): loss {first['loss']:.4f} at step {first['step']} -> "
      f"{last['loss']:.4f} at step {last['step']}, {last['samples_per_second']:.0f} samples/s")
sys.exit(0 if last["loss"] < first["loss"] else 1)
PY
  done
  cmp "$dir/align-auto/adapter.safetensors" "$dir/align-nccl/adapter.safetensors" &&
    echo "nccl group of one: the same adapter bytes as no group"
}
train_check || status=1

bench() {  # name family preset clip dtype
  local dir=/tmp/lmeye-$1
  step "init-model $1"
  "$LMEYE" init-model --family "$2" --preset "$3" --clip-preset "$4" --dtype "$5" \
    --tokenizer tests/data/tokenizers/"$6" --out "$dir" --force >"$OUT_DIR/init-$1.log" 2>&1 \
    || { tail -5 "$OUT_DIR/init-$1.log"; return 1; }
  for dt in $5; do
    step "bench $1 $dt on $DEVICE"
    "$LMEYE" bench --model "$dir" --device "$DEVICE" --dtype "$dt" --prompt-tokens 64 \
      --prefill-tokens 512 --decode-steps 64 --batch-sizes 1,8,32 --repeats 3 --json \
      >"$OUT_DIR/bench-$1-$dt.json" 2>"$OUT_DIR/bench-$1-$dt.log" || { tail -5 "$OUT_DIR/bench-$1-$dt.log"; return 1; }
    cat "$OUT_DIR/bench-$1-$dt.json"; echo
  done
  rm -rf "$dir"
}
bench opt-iml-1.3b opt 1.3b vit-l-14 bf16 gpt2 || status=1
if [ "$(elapsed)" -lt "$BUDGET_S" ]; then
  bench llama-7b llama 7b vit-l-14 f16 llama_spm || status=1
else
  step "skipping llama-7b: $(elapsed) s used of a $BUDGET_S s budget"
fi
step "done (status $status)"
exit $status

#!/usr/bin/env bash
# The main job: builds, checks the shipped goldens (`lmeye verify`, a few seconds), then serves
# the gRPC API with the embedded default model: the demo LMEye the project trained itself
# (model/demo/MODEL_CARD.md). Once it is up it asks the model a question about a shipped demo
# image (model/demo/examples.jsonl) and prints the question and the streamed answer; then it keeps
# serving (Ctrl-C or SIGTERM drains), or with --once stops the server and exits.
#   deploy/run.sh [--once] [lmeye serve flags...]
# With --model DIR or --config FILE it serves that model and asks nothing.
# Talk to it from another terminal: build/client/lmeye_client chat --image model/demo/images/...
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
custom=0
args=()
for a in "$@"; do
  case "$a" in
    --once) once=1 ;;
    --model | --model=* | --config | --config=*) custom=1; args+=("$a") ;;
    *) args+=("$a") ;;
  esac
done
bash deploy/build.sh
BUILD_DIR="${LMEYE_BUILD_DIR:-build}"
"$BUILD_DIR/server/lmeye" verify $(for m in tests/data/models/*/; do echo --model "$m"; done) \
  | grep -E "^(PASS|FAIL)"

# Without model/demo the default model is a random one written with GPT-2's tokenizer, which the
# binary takes from here (it reads nothing of the source tree on its own).
export LMEYE_DEFAULT_TOKENIZER_DIR="${LMEYE_DEFAULT_TOKENIZER_DIR:-$PWD/tests/data/tokenizers/gpt2}"
work=$(mktemp -d)
"$BUILD_DIR/server/lmeye" serve ${args[@]+"${args[@]}"} --ports-file "$work/ports" &
pid=$!
stop() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for _ in $(seq 1 600); do
  [ -s "$work/ports" ] && break
  kill -0 "$pid" 2>/dev/null || { wait "$pid"; exit $?; }
  sleep 0.2
done
[ -s "$work/ports" ] || { echo "run.sh: lmeye serve did not start" >&2; exit 1; }
port=$(cut -d' ' -f1 "$work/ports")

if [ "$custom" = 0 ] && [ -s model/demo/examples.jsonl ]; then
  IFS=$'\t' read -r image question truth < <(python3 -c '
import json
e = json.loads(open("model/demo/examples.jsonl").readline())
print("model/demo/" + e["image"], e["question"], e["answer"], sep="\t")')
  echo "demo image: $image"
  echo "question:   $question"
  printf "answer:    "
  "$BUILD_DIR/client/lmeye_client" chat --server "127.0.0.1:$port" --image "$image" \
    --message "$question" --max-new-tokens 32
  # The truth, from the scene's generator: the demo model is right about as often as its
  # model card (model/demo/MODEL_CARD.md) says, not always.
  echo "truth:      $truth"
fi
if [ "$once" = 1 ]; then
  exit 0
fi
echo "run.sh: serving on port $port (Ctrl-C drains and stops)" >&2
wait "$pid"

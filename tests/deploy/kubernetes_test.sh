#!/usr/bin/env bash
# Kubernetes manifests: every kustomization renders (`kubectl kustomize`, kustomize v5 built into
# kubectl), the rendered objects validate against the Kubernetes API schemas (and the Prometheus
# Operator's for PodMonitor) with unknown fields rejected (validate_k8s.js), and the objects
# agree with each other (check_k8s_consistency.js).
#   kubernetes_test.sh NPM_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
export NODE_PATH="$1/node_modules"
command -v kubectl >/dev/null || { echo "FAIL: kubectl not found (it renders the kustomizations)" >&2; exit 1; }
echo "kubectl: $(kubectl version --client 2>/dev/null | tr '\n' ' ')"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

node "$here/validate_k8s.js" --self-test

for k in base overlays/cpu overlays/gpu training; do
  name="${k//\//-}"
  if ! kubectl kustomize "$src/deploy/kubernetes/$k" > "$out/$name.yaml" 2> "$out/$name.err"; then
    echo "FAIL: kubectl kustomize deploy/kubernetes/$k:" >&2
    cat "$out/$name.err" >&2
    exit 1
  fi
  echo "ok   deploy/kubernetes/$k renders ($(grep -c '^kind:' "$out/$name.yaml") objects)"
done

node "$here/validate_k8s.js" "$out"/*.yaml
node "$here/sync_prometheusrule.js" --check
node "$here/check_k8s_consistency.js" serve "$out/base.yaml"
node "$here/check_k8s_consistency.js" serve "$out/overlays-cpu.yaml"
node "$here/check_k8s_consistency.js" serve "$out/overlays-gpu.yaml" --gpu
node "$here/check_k8s_consistency.js" train "$out/training.yaml"
echo PASS

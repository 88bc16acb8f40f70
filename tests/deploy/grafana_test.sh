#!/usr/bin/env bash
# The Grafana dashboard (deploy/grafana/lmeye-serve.json):
#   - type-checked against Grafana's published dashboard schema (npm @grafana/schema, the types
#     Grafana generates from its CUE schema) by the TypeScript compiler, as an object literal so
#     that unknown fields are errors too;
#   - its layout, datasources, variables and required panels (dashboard_check.py);
#   - every query parsed by Prometheus' PromQL parser (promtool check rules).
# Its metric names are checked against a live server by deploy_metric_names, and its queries
# against a live Prometheus by deploy_prometheus_integration.
#   grafana_test.sh NPM_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
npm_dir="$(cd "$1" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out" "$npm_dir/dashboard_check_$$.ts"' EXIT

# Inside the npm directory, so that the compiler resolves @grafana/schema from its node_modules.
ts="$npm_dir/dashboard_check_$$.ts"
{
  echo 'import type { Dashboard } from "@grafana/schema";'
  printf 'export const dashboard: Dashboard = '
  cat "$src/deploy/grafana/lmeye-serve.json"
  echo ';'
} > "$ts"
"$npm_dir/node_modules/.bin/tsc" --noEmit --strict --module node16 --moduleResolution node16 \
  --target es2020 "$ts"
echo "ok   deploy/grafana/lmeye-serve.json type-checks as a Grafana Dashboard (@grafana/schema $(node -p "require('$npm_dir/node_modules/@grafana/schema/package.json').version"), tsc $("$npm_dir/node_modules/.bin/tsc" --version | cut -d' ' -f2))"

python3 "$here/dashboard_check.py" "$out/dashboard-queries.yml"
command -v promtool >/dev/null || { echo "FAIL: promtool not found: install Debian's prometheus (deploy/setup.sh does)" >&2; exit 1; }
promtool check rules "$out/dashboard-queries.yml"
echo PASS

#!/usr/bin/env bash
# Prometheus files with promtool (Debian's `prometheus`): the scrape config and the rule file
# it loads, the alert rules' unit tests, and every query of the Grafana dashboard parsed by
# Prometheus' own PromQL parser (dashboard_check.py writes them as recording rules).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
command -v promtool >/dev/null || { echo "FAIL: promtool not found: install Debian's prometheus (deploy/setup.sh does)" >&2; exit 1; }
promtool --version 2>&1 | head -1
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
cd "$src/deploy/prometheus"
promtool check config prometheus.yml
promtool check rules lmeye.rules.yml
promtool test rules lmeye.rules.test.yml
python3 "$here/dashboard_check.py" "$out/dashboard-queries.yml"
promtool check rules "$out/dashboard-queries.yml"
echo PASS

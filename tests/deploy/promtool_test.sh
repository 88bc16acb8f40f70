#!/usr/bin/env bash
# Prometheus files with promtool (Debian's `prometheus`): the scrape config and the rule file
# it loads, and the alert rules' unit tests. (The dashboard's queries: grafana_test.sh.)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
command -v promtool >/dev/null || { echo "FAIL: promtool not found: install Debian's prometheus (deploy/setup.sh does)" >&2; exit 1; }
promtool --version 2>&1 | head -1
cd "$src/deploy/prometheus"
promtool check config prometheus.yml
promtool check rules lmeye.rules.yml
promtool test rules lmeye.rules.test.yml
echo PASS

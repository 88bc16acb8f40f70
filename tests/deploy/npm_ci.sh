#!/usr/bin/env bash
# Installs the npm tools of tests/deploy (package-lock.json: kubernetes-models and its
# prometheus-operator models, dockerfilelint, dockerfile-utils, yaml) into NPM_DIR with `npm ci`,
# once per lock file: a stamp holding the lock's hash skips it when nothing changed.
#   npm_ci.sh NPM_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
npm_dir="$1"
command -v npm >/dev/null || { echo "npm_ci: npm not found (Node.js 20 and npm are needed)" >&2; exit 1; }
mkdir -p "$npm_dir"
stamp="$npm_dir/node_modules/.lmeye-lock.sha256"
want="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "npm_ci: $npm_dir is up to date with package-lock.json"
  exit 0
fi
cp "$here/package.json" "$here/package-lock.json" "$npm_dir/"
cd "$npm_dir"
npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
echo "npm_ci: installed $(find node_modules -mindepth 1 -maxdepth 1 | wc -l) entries into $npm_dir/node_modules"

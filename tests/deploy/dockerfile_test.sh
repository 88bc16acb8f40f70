#!/usr/bin/env bash
# Dockerfiles (no Docker engine runs here, so the images are not built): two linters,
# dockerfilelint (best practices) and dockerfile-utils (the Dockerfile grammar and each
# instruction's flags, as VS Code's Docker support validates them), then dockerfile_check.py
# (the build stage runs CI's deploy/setup.sh and deploy/build.sh, runtime libraries, user,
# ports, health check, .dockerignore).
#   dockerfile_test.sh NPM_DIR LMEYE_BIN LMEYE_CLIENT_BIN
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$(cd "$here/../.." && pwd)"
bin="$1/node_modules/.bin"
for f in Dockerfile Dockerfile.cuda; do
  "$bin/dockerfilelint" "$src/docker/$f"
  "$bin/dockerfile-utils" lint "$src/docker/$f"
  echo "ok   docker/$f: dockerfilelint, dockerfile-utils lint"
done
python3 "$here/dockerfile_check.py" "$2" "$3"
echo PASS

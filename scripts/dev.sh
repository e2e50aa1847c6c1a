#!/usr/bin/env bash
# The one local-run command: install what is missing, build, and serve on http://127.0.0.1:8787
# in workerd with the local Workers AI emulator. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec node scripts/dev.mjs

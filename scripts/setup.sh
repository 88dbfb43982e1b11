#!/usr/bin/env bash
# One command on a fresh machine with Node/npm: installs Bun from npm if missing, the locked
# dependencies, builds ./dist/devx, then runs the quick start (the main job).
#   bash scripts/setup.sh            # set up + build + run the quick start
#   DEVX_SETUP_ONLY=1 bash scripts/setup.sh   # set up + build only
set -euo pipefail
cd "$(dirname "$0")/.."

BUN_VERSION=1.4.5
if ! command -v bun >/dev/null 2>&1; then
  echo "setup: installing Bun ${BUN_VERSION} from npm" >&2
  if ! npm install -g --allow-scripts=bun "bun@${BUN_VERSION}" >/dev/null 2>&1; then
    # No permission for the global prefix: install under ~/.local instead.
    npm install -g --allow-scripts=bun --prefix "$HOME/.local" "bun@${BUN_VERSION}" >/dev/null
    export PATH="$HOME/.local/bin:$PATH"
    echo "setup: Bun installed in ~/.local/bin; add it to PATH: export PATH=\"\$HOME/.local/bin:\$PATH\"" >&2
  fi
fi
bun install --frozen-lockfile
bun run build

[ -n "${DEVX_SETUP_ONLY:-}" ] && exit 0
exec ./dist/devx up -f examples/quickstart/devx.yaml --exit-when-healthy

#!/usr/bin/env bash
# Installs everything nerveseg needs on a fresh Debian machine (run as root): the system libraries the
# native core links against, the TIFF tools the tests compare with, Chromium for the viewer's browser test, then
# the npm packages (which builds the addon). Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
for pkg in libdnnl-dev libtiff-tools g++ make python3 chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# onnxruntime-node's install script would download GPU binaries; the CPU build ships in the package.
export ONNXRUNTIME_NODE_INSTALL=skip
npm ci --no-audit --no-fund
# The `nerveseg` command on PATH (what the demo's last lines and the README use): build, then link the
# CLI into /usr/local/bin (a plain symlink; `npm link` would rebuild the native addon a second time).
npm run build --silent
chmod +x dist/src/cli/main.js
if [ -w /usr/local/bin ]; then
  ln -sf "$(pwd)/dist/src/cli/main.js" /usr/local/bin/nerveseg
else
  echo "note: /usr/local/bin is not writable; run the CLI as node dist/src/cli/main.js"
fi

#!/usr/bin/env bash
# Installs what the browser and extension-host tests need beyond npm packages, when missing:
# Debian's Chromium (webview tests) and libkrb5-dev, which code-server (the VS Code extension
# host of the VS Code tests, installed by test/vscode/install-host.sh) needs to build.
# Runs before `npm test`; idempotent and quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
HOST=.vscode-test/host/node_modules/code-server

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ! -d $HOST ]; then
  dpkg -s libkrb5-dev >/dev/null 2>&1 || need+=(libkrb5-dev)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-setup: missing Debian packages: ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "test-setup: installing ${need[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

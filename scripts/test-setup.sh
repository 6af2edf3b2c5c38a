#!/usr/bin/env bash
# Installs what the browser and extension-host tests need beyond npm packages, when missing:
# Debian's Chromium (webview tests) and the code-server extension host (VS Code tests).
# Runs before `npm test`; idempotent and quick when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ! -d test/vscode/host/node_modules/code-server ]; then
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
if [ -x test/vscode/install-host.sh ] && [ ! -d test/vscode/host/node_modules/code-server ]; then
  test/vscode/install-host.sh
fi

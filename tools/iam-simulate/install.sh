#!/usr/bin/env bash
# Installs the IAM simulator's npm packages, exactly as package-lock.json pins them.
# Cached by the lock file's hash under ~/.cache/ppdw: a repeated run copies the installed
# packages instead of running npm again (npm ci takes seconds even with a warm npm cache).
set -euo pipefail
cd "$(dirname "$0")"
key="$(sha256sum package-lock.json | cut -c1-16)"
marker="node_modules/.ppdw-installed-$key"
[ -f "$marker" ] && exit 0
cache="${XDG_CACHE_HOME:-$HOME/.cache}/ppdw/iam-simulate-$key"
rm -rf node_modules
if [ -d "$cache/node_modules" ]; then
    cp -a "$cache/node_modules" .
else
    npm ci --prefer-offline --no-audit --no-fund
    mkdir -p "$cache"
    rm -rf "$cache/node_modules.tmp"
    cp -a node_modules "$cache/node_modules.tmp"
    mv "$cache/node_modules.tmp" "$cache/node_modules"
fi
touch "$marker"

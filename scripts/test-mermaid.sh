#!/usr/bin/env bash
# What the PR-comment tests draw Mermaid charts with: Chromium, Node and npm (from apt when missing,
# as root), and the mermaid package pinned by tests/fixtures/mermaid/package-lock.json (npm ci once).
# Idempotent: a machine that has them all is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-mermaid: install ${missing[*]} (as root: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
fixture=tests/fixtures/mermaid
if [ ! -f "$fixture/node_modules/mermaid/dist/mermaid.min.js" ]; then
  npm ci --prefix "$fixture" --no-audit --no-fund --loglevel=error
fi

#!/usr/bin/env bash
# What the browser tests need (gitexp ui, the HTML report, the PR comment's Mermaid charts): Chromium, Node and npm (from apt when missing:
# as root, or through sudo -n), and the mermaid package pinned by tests/fixtures/mermaid/package-lock.json
# (npm ci once). Idempotent: a machine that has them all is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
  else
    echo "make browser: not root: install ${missing[*]} (apt-get install ${missing[*]}), or the browser tests skip" >&2
    exit 0
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
fixture=tests/fixtures/mermaid
if [ ! -f "$fixture/node_modules/mermaid/dist/mermaid.min.js" ]; then
  npm ci --prefix "$fixture" --no-audit --no-fund --loglevel=error
fi

#!/usr/bin/env bash
# The browser tests drive Debian's Chromium; install it when it is missing, with CJK and emoji
# fonts so the screenshots in test-artifacts/ show Chinese text (patients' browsers have their own).
# The project never downloads a browser build of its own.
# The accessibility gate injects axe-core from node_modules/ (npm, pinned in package-lock.json; no CDN):
# installed here with Debian's npm when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)  # the tests drive /usr/bin/chromium
if ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; }; then
  packages+=(fonts-noto-cjk fonts-noto-color-emoji)
fi
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [ ${#packages[@]} -gt 0 ]; then
  echo "Installing Debian packages for the browser tests: ${packages[*]}"
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
fi
command -v chromium >/dev/null
if [ ! -f node_modules/axe-core/axe.min.js ]; then
  echo "Installing axe-core for the accessibility tests (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

#!/usr/bin/env bash
# The browser tests drive Debian's Chromium; install it when it is missing, with CJK and emoji
# fonts so the screenshots in test-artifacts/ show Chinese text (patients' browsers have their own).
# The project never downloads a browser build of its own.
set -euo pipefail
packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)  # the tests drive /usr/bin/chromium
if ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]; }; then
  packages+=(fonts-noto-cjk fonts-noto-color-emoji)
fi
if [ ${#packages[@]} -eq 0 ]; then exit 0; fi
echo "Installing Debian packages for the browser tests: ${packages[*]}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
command -v chromium

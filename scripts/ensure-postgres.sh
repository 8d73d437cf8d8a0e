#!/usr/bin/env bash
# The scale-out tests start a throw-away PostgreSQL on a temp directory and port; they need
# Debian's server binaries (initdb, pg_ctl). Installs them when missing; starts nothing.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  # Debian starts a cluster on install; the tests use their own.
  (service postgresql stop || true) >/dev/null 2>&1
else
  sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

#!/usr/bin/env bash
# Installs the Debian packages pagesim's tests use beyond npm: the sqlite3 shell (a test opens the
# SQLite event log with it), Chromium (the report test renders report.html in it, driven by
# playwright-core) and Jupyter's nbconvert with an IPython kernel client (the notebook tests
# execute notebooks/*.ipynb with the Deno kernel). Installs only what is missing; idempotent.
set -euo pipefail
need=()
command -v sqlite3 >/dev/null || need+=(sqlite3)
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v jupyter-nbconvert >/dev/null || need+=(jupyter-nbconvert jupyter-client python3-ipykernel)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup-debian: installing ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

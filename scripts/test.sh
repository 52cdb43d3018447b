#!/usr/bin/env bash
# Install everything the test suite needs and run it: `bash scripts/test.sh [pytest args]`.
set -euo pipefail
cd "$(dirname "$0")/.."
# Browser tests use Debian's Chromium (Playwright cannot download browsers here).
if ! command -v chromium >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
      || echo "warning: could not install chromium; browser tests will not run" >&2
  else
    echo "note: chromium not found (apt-get install chromium); browser tests will skip" >&2
  fi
fi
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[all,test]"
python -m pytest "$@"

#!/usr/bin/env bash
# Build the documentation site into site/ (offline, warnings are errors):
#   bash scripts/docs.sh [OUTDIR]
# Needs the `docs` extra: pip install -e ".[docs]".
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-site}"
# Executed pages are regenerated every time, so no figure can outlive the code that made it.
rm -rf docs/generated
export MPLBACKEND=Agg PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
python -m sphinx -b html -E -W --keep-going -q -j 1 docs "$out" -d "${out}/.doctrees"
echo "docs: $out/index.html"

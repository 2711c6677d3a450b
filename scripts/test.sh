#!/usr/bin/env bash
# Sets up .venv (skipped when complete), checks lint, runs every CPU test. Exits non-zero on any failure,
# "no tests collected" included; `gpu` tests skip themselves, with a reason, where CUDA is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing" >&2
fi
exit "$status"

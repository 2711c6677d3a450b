#!/usr/bin/env bash
# Sets up .venv (skipped when complete) and runs the end-to-end demo on the bundled and shared data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/canto-nemo demo "$@"

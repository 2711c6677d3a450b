#!/usr/bin/env bash
# Regenerates requirements.lock (every transitive dependency pinned) from pyproject.toml with pip-tools, resolving
# as pip does on this machine. setup.sh installs with it as constraints; run this after changing dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet --upgrade pip==26.3 pip-tools==7.6.2
"$tools/bin/pip-compile" --quiet --extra dev --strip-extras --no-emit-index-url --no-emit-find-links \
  --output-file requirements.lock pyproject.toml
# The CPU build of torch is 2.13.0+cpu on this machine's disk; pin the release so that `torch==2.13.0` still
# resolves where only PyPI's build exists.
sed -i 's/^torch==2\.13\.0+cpu$/torch==2.13.0/' requirements.lock
rm -rf "$tools"
echo "[lock] wrote requirements.lock ($(grep -c '==' requirements.lock) pins)"

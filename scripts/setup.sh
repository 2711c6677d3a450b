#!/usr/bin/env bash
# Builds the virtual environment at .venv with the locked stack (requirements.lock, generated from pyproject.toml by
# scripts/lock.sh) and this package, editable. Skips the install when .venv is complete for the current files.
set -euo pipefail
cd "$(dirname "$0")/.."

# The chat page's browser test (tests/serving/test_chat_page.py) drives Debian's Chromium, and its screenshots need
# CJK fonts. Checked before the .venv shortcut below, so a fresh CI machine with a cached .venv gets them too;
# installed only where missing and where this script may (root, apt-get); anywhere else the test skips, saying why.
if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  missing=""
  for pkg in chromium chromium-driver fonts-noto-cjk; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing="$missing $pkg"
  done
  if [ -n "$missing" ]; then
    echo "[setup] installing$missing (for the chat page's browser test)"
    # shellcheck disable=SC2086  # one word per package
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing; } \
      >/dev/null 2>&1 || echo "[setup] could not install$missing: the browser test will skip" >&2
  fi
fi

want=$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
stamp=.venv/.canto-nemo-installed
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/canto-nemo ]; then
  exit 0
fi

echo "[setup] building .venv (first time: about 3-5 minutes, about 3 GB)"
python3 -m venv .venv
# pip 23.2 (the venv default) silently drops the extra spelled text_cpu: upgrade first.
.venv/bin/python -m pip install --quiet --upgrade pip==26.3
.venv/bin/python -m pip install --quiet --progress-bar off -c requirements.lock -e '.[dev]'
# pip check does not notice missing extras; importing them does.
.venv/bin/python - <<'PY'
import importlib
for name in ["nemo.collections.llm", "nemo_curator", "megatron.core", "opencc", "pycantonese", "hydra",
             "trafilatura", "justext", "fasttext", "pycld2", "ftfy", "pytest", "hypothesis"]:
    importlib.import_module(name)
print("[setup] every pinned package imports")
PY
echo "$want" > "$stamp"

#!/usr/bin/env bash
# The GPU half of the project in one command, run from the repository root on a lent GPU machine (its stock image:
# python3 with torch and CUDA, no network): installs the carried wheels (.whl/, from scripts/gpu_wheels.sh) into a
# folder of their own, then runs benchmarks/gpu_check.py, which writes $OUT/gpu_check.json. With --dry-run it runs
# every part on CPU at tiny sizes in this project's .venv instead (CI does: tests/test_gpu_check.py).
set -uo pipefail
cd "$(dirname "$0")/.."
py=python3
case " $* " in
  *" --dry-run "*) bash scripts/setup.sh >&2 || exit 1; py=.venv/bin/python ;;
  *)
    if [ -d .whl ]; then
      site=/tmp/canto_nemo_gpu_site
      "$py" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --ignore-requires-python --target "$site" .whl/*.whl || exit 1
      export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    else
      echo "[gpu_check] no .whl/ here: run scripts/gpu_wheels.sh first and carry .whl and .gpu_check" >&2
    fi ;;
esac
PYTHONUNBUFFERED=1 exec "$py" benchmarks/gpu_check.py "$@"

#!/usr/bin/env bash
# Makes what the GPU check carries to the device (scripts/gpu_check.sh there): the pinned wheels of
# scripts/gpu_wheels.txt for CPython 3.12 on x86_64 into .whl/, and the data and models benchmarks/gpu_check.py
# prepare builds into .gpu_check/ (the device has no NeMo, Curator or ../shared/data); then prints the size that
# would travel, and fails past the device's 64 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
rm -rf .whl && mkdir -p .whl
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
.venv/bin/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" -d .whl -r scripts/gpu_wheels.txt
echo "[gpu_wheels] $(ls .whl | wc -l) wheels, $(du -sh .whl | cut -f1) in .whl/"
.venv/bin/python benchmarks/gpu_check.py prepare "$@"
.venv/bin/python benchmarks/gpu_check.py travel

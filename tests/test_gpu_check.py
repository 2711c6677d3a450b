"""The GPU check (scripts/gpu_check.sh, benchmarks/gpu_check.py) cannot rot between device loans: its dry run runs
every part on CPU here, and the modules it needs import on an image without NeMo, NeMo Curator, megatron-core or
Ray, from the source tree through the check's own shim (as on the device)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PARTS = ["environment", "minhash", "training", "serving", "alignment", "gpu_tests"]

# Hides the installed package (so the shim is what imports it) and the stack the device lacks.
HIDDEN = r'''
import sys
from importlib.machinery import PathFinder
blocked = {"nemo", "nemo_curator", "megatron", "ray", "lightning", "hydra"}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is hidden: the device image has no {name.split('.')[0]}")
        return None
sys.meta_path = [Blocker()] + [f for f in sys.meta_path if "editable" not in type(f).__name__.lower()
                               and "editable" not in getattr(f, "__module__", "")]
sys.path = [p for p in sys.path if "__editable__" not in p]
sys.path.insert(0, sys.argv[1])
import gpu_check
print(gpu_check.use_project())
'''


def test_cuda_capable_modules_import_without_nemo_curator_or_megatron():
    code = HIDDEN + r'''
import canto_nemo
assert "site-packages" not in canto_nemo.__path__[0] and "canto_nemo_shim_" in canto_nemo.__path__[0]
from canto_nemo.curator_stages import lsh, minhash
from canto_nemo.curator_stages.language_pack import get_pack
from canto_nemo.cantonese.rewards import dialect_reward
from canto_nemo.serving import generation, server
from canto_nemo.alignment import align
pack = get_pack("cantonese")  # by name: the shim's entry points
sig = minhash.signatures(["香港嘅天氣好熱", "香港的天氣好熱"], minhash.MinHashConfig(), "cpu", pack)
assert sig.shape == (2, 128)
assert dialect_reward(["我哋今日去咗飲茶"])[0] > dialect_reward(["我們今天去了喝茶"])[0]
for name in list(sys.modules):
    assert name.split(".")[0] not in blocked, name
print("ok")
'''
    done = subprocess.run([sys.executable, "-c", code, str(REPO / "benchmarks")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "ok"
    assert "source tree through" in done.stdout


@pytest.mark.slow
def test_dry_run_exercises_every_part(tmp_path, shared_data):
    done = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh"), "--dry-run", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    report = json.loads((tmp_path / "gpu_check.json").read_text(encoding="utf-8"))
    failures = {name: part.get("traceback") for name, part in report["parts"].items() if not part["ok"]}
    assert done.returncode == 0 and not failures, (failures, done.stdout[-3000:], done.stderr[-3000:])
    assert list(report["parts"]) == PARTS
    figures = {name: part["figures"] for name, part in report["parts"].items()}
    assert figures["minhash"]["identical_signatures"] and figures["minhash"]["identical_duplicates"]
    assert figures["training"]["model"].startswith("megatron-core GPTModel")
    assert figures["training"]["loss_falling"] and figures["training"]["tokens_per_s"] > 0
    assert figures["serving"]["one_stream_tokens_per_s"] > 0 and figures["serving"]["completion"].startswith("香港")
    assert figures["alignment"]["steps_per_s"] > 0
    # on CPU every gpu test is collected and skips itself
    assert "skipped" in figures["gpu_tests"]["summary"] and figures["gpu_tests"]["exit_code"] == 0
    assert "[gpu_check] minhash.identical_signatures: True" in done.stdout


def test_travel_size_is_printed_and_checked():
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "travel"], capture_output=True,
                          text=True, timeout=120, cwd=REPO)
    assert "travel (MiB): tree " in done.stdout and "limit 64" in done.stdout
    assert done.returncode == (0 if float(done.stdout.split("total ")[1].split()[0]) < 64 else 1)


def test_wheel_list_is_pinned_to_the_lock():
    lock = dict(line.split("==") for line in (REPO / "requirements.lock").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    wheels = [line.split("#")[0].strip() for line in (REPO / "scripts" / "gpu_wheels.txt").read_text().splitlines()]
    pins = [w.split("==") for w in wheels if w]
    assert pins and all(len(p) == 2 for p in pins)
    for name, version in pins:
        if name != "rensa":  # a benchmark anchor: pinned in pyproject's bench extra, not the lock
            assert lock[name].split()[0] == version, name

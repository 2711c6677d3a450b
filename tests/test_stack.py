"""The whole pinned stack imports in one environment (STACK.md), in a fresh interpreter."""

import subprocess
import sys


def test_whole_stack_imports_together():
    code = (
        "import nemo.collections.llm, nemo_curator, megatron.core, opencc, pycantonese, nemo_run, hydra;"
        "from nemo_curator.pipeline import Pipeline;"
        "import numpy, torch; print(numpy.__version__, torch.__version__)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    numpy_version, torch_version = done.stdout.split()[-2:]
    assert numpy_version.startswith("1.")
    assert torch_version.startswith("2.13.0")

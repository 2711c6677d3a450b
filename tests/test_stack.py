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


def test_the_distribution_installs_one_import_root(tmp_path):
    """The folders at the top of the repository install under canto_nemo.*; nothing else lands in site-packages."""
    import shutil
    import zipfile
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    source = tmp_path / "src"  # a copy: setuptools leaves build/ beside the sources it builds
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "canto_nemo", "common", "curator_stages", "cantonese", "recipes",
                 "vocabulary", "evaluation", "serving", "alignment", "conf"):
        copy = shutil.copytree if (repo / name).is_dir() else shutil.copy
        copy(repo / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is
                                              shutil.copytree else {}))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path), str(source)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = tmp_path.glob("canto_nemo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"canto_nemo", wheel.name.split("-py3")[0] + ".dist-info"}
    for expected in ("canto_nemo/curator_stages/workflow.py", "canto_nemo/cantonese/pack.py",
                     "canto_nemo/recipes/nemo_recipes.py", "canto_nemo/conf/curate/config.yaml",
                     "canto_nemo/conf/curate/pipeline/default.yaml", "canto_nemo/conf/recipe/model/tiny.yaml",
                     "canto_nemo/cantonese/data/dialect_model.tsv", "canto_nemo/common/outputs.py",
                     "canto_nemo/evaluation/tasks/yue_gsm8k.yaml", "canto_nemo/serving/static/index.html",
                     "canto_nemo/alignment/nemo_rl/grpo_megatron.yaml", "canto_nemo/vocabulary/mine.py"):
        assert expected in names

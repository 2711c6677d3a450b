"""Shared test fixtures: the real data in ../shared/data, and small real samples of it."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

csv.field_size_limit(sys.maxsize)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"../shared/data is not beside the repository (looked in {SHARED_DATA})")
    return SHARED_DATA


@pytest.fixture(scope="session")
def lihkg_posts(shared_data: Path) -> list[str]:
    """The text of the real LIHKG posts (test split)."""
    with (shared_data / "lihkg" / "test.tsv").open(encoding="utf-8") as f:
        return [row["text_a"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


def pytest_collection_modifyitems(config, items):
    """`gpu` tests need CUDA; on a CPU machine they are skipped, saying why."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; this machine has none")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)

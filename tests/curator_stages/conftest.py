"""Fixtures shared by the fuzzy-dedup tests. NeMo Curator is imported inside the fixture: the `gpu` tests in this
folder run on the device's stock image (benchmarks/gpu_check.py), which has no Curator."""

import pandas as pd
import pytest

from canto_nemo.curator_stages.columns import KEY
from canto_nemo.curator_stages.minhash import MinHashConfig


@pytest.fixture
def write_minhash_parts():
    """A function writing (id, text) documents as the workflow's pass 1 does (id, text and the MinHash columns) into
    `parts` Parquet files under a folder; it returns the folder."""

    from nemo_curator.tasks import DocumentBatch

    from canto_nemo.curator_stages.fuzzy_dedup import MinHashStage

    def write(folder, docs: list[tuple[str, str]], parts: int, config: MinHashConfig | None = None) -> str:
        folder.mkdir(parents=True, exist_ok=True)
        stage = MinHashStage(config or MinHashConfig(), pack="cantonese", device="cpu")
        for i in range(parts):
            chunk = docs[i::parts]
            df = pd.DataFrame({"id": [d[0] for d in chunk], KEY: [d[0] for d in chunk], "text": [d[1] for d in chunk]})
            stage.process(DocumentBatch(dataset_name="t", data=df)).to_pandas().to_parquet(folder / f"part{i}.parquet")
        return str(folder)

    return write

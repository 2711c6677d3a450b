"""Exact dedup, in NeMo Curator's identify-then-remove shape.

1. `ExactHashStage` adds a hash of the normalised text (whitespace removed) to every document.
2. `find_exact_duplicates` reads only (id, hash) of the whole corpus and picks, per hash, the smallest id as the
   survivor: deterministic, whatever the order or partitioning of the input.
3. `DuplicateRemover` drops the duplicates batch by batch and writes each to the rejects with the id it duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import fsspec
import pandas as pd
import pyarrow.dataset as pads
import xxhash
from nemo_curator.stages.base import ProcessingStage
from nemo_curator.tasks import DocumentBatch

from canto_nemo.curator_stages.rejects import write_rejects

HASH_COLUMN = "_exact_hash"
_WHITESPACE = re.compile(r"\s+")


def exact_hash(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(_WHITESPACE.sub("", text).encode("utf-8"))


@dataclass
class ExactHashStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    text_field: str = "text"
    name: str = "exact_hash"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [HASH_COLUMN]

    def process(self, batch: DocumentBatch) -> DocumentBatch:
        df = batch.to_pandas()
        df[HASH_COLUMN] = [exact_hash(t) for t in df[self.text_field]]
        return DocumentBatch(dataset_name=batch.dataset_name, data=df, _metadata=batch._metadata,
                             _stage_perf=batch._stage_perf)


def find_exact_duplicates(parquet_dir: str) -> pd.DataFrame:
    """(id, duplicate_of) for every document whose hash an earlier (smaller) id already has."""
    table = pads.dataset(parquet_dir, format="parquet").to_table(columns=["id", HASH_COLUMN])
    df = table.to_pandas().sort_values(["id"], kind="stable")
    survivor = df.groupby(HASH_COLUMN, sort=False)["id"].transform("first")
    duplicates = df[df["id"] != survivor]
    return pd.DataFrame({"id": duplicates["id"].to_numpy(), "duplicate_of": survivor[duplicates.index].to_numpy()})


@cache
def _duplicate_table(path: str) -> dict[str, str]:
    """Loaded once per worker process. (A `setup` would make this an actor stage, and two actor stages in one pass
    hold both CPUs of a small machine while the writer waits for one.)"""
    with fsspec.open(path, "rb") as f:
        table = pd.read_parquet(f)
    return dict(zip(table["id"], table["duplicate_of"], strict=True))


@dataclass
class DuplicateRemover(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Drops the ids listed in `duplicates_path` (a Parquet table id, duplicate_of), writing each to the rejects
    with reason `reason` and the id of its cluster's survivor. Internal columns (names starting with "_": hashes,
    signatures) go, from the kept documents and the rejects alike: their work is done."""

    duplicates_path: str
    rejects_path: str | None = None
    reason: str = "exact_duplicate"
    detail: str = "same text as {duplicate_of} (whitespace aside)"  # formatted per rejected document
    name: str = "exact_dedup"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], ["id"]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def process(self, batch: DocumentBatch) -> DocumentBatch:
        duplicate_of_id = _duplicate_table(self.duplicates_path)
        df = batch.to_pandas()
        df = df.drop(columns=[c for c in df.columns if c.startswith("_")])
        duplicate_of = df["id"].map(duplicate_of_id)
        dropped = duplicate_of.notna()
        if dropped.any() and self.rejects_path is not None:
            rejected = df[dropped].copy()
            rejected["stage"] = self.name
            rejected["reason"] = self.reason
            rejected["duplicate_of"] = duplicate_of[dropped]
            rejected["detail"] = [self.detail.format(duplicate_of=d) for d in rejected["duplicate_of"]]
            write_rejects(self.rejects_path, self.name, batch.task_id, rejected)
        return DocumentBatch(dataset_name=batch.dataset_name, data=df[~dropped], _metadata=batch._metadata,
                             _stage_perf=batch._stage_perf)

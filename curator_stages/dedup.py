"""Exact dedup, in NeMo Curator's identify-then-remove shape.

1. `ExactHashStage` adds a hash of the normalised text (whitespace removed) to every document.
2. `find_exact_duplicates` reads only (key, hash) of the whole corpus and picks, per hash, the smallest key
   ("<source>:<line>", unique even where users' ids are not) as the survivor: deterministic, whatever the order or
   partitioning of the input. `ExactDuplicateFinder` runs it as a Curator stage, on a worker: the corpus-wide tables
   never live on the driver, the one process of a Ray cluster that cannot grow.
3. `DuplicateRemover` drops the duplicates batch by batch and writes each to the rejects with the id it duplicates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import xxhash
from nemo_curator.stages.base import ProcessingStage
from nemo_curator.tasks import DocumentBatch, FileGroupTask

from canto_nemo.curator_stages.columns import HASH_COLUMN, KEY, drop_internal
from canto_nemo.curator_stages.rejects import write_rejects

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


def find_exact_duplicates(parquet_dir: str | list[str]) -> pd.DataFrame:
    """(KEY, duplicate_of_key) for every document whose hash a document with a smaller key already has."""
    table = pads.dataset(parquet_dir, format="parquet").to_table(columns=[KEY, HASH_COLUMN])
    df = table.to_pandas().sort_values([KEY], kind="stable")
    survivor = df.groupby(HASH_COLUMN, sort=False)[KEY].transform("first")
    duplicates = df[df[KEY] != survivor]
    return pd.DataFrame({KEY: duplicates[KEY].to_numpy(), "duplicate_of_key": survivor[duplicates.index].to_numpy()})


def with_survivor_ids(duplicates: pd.DataFrame, files: list[str], id_field: str) -> pd.DataFrame:
    """Adds `duplicate_of`: the user-facing id of each duplicate's survivor (as text: ids may be numbers in one file
    and text in another), read from pass 1's Parquet files, one file at a time."""
    wanted = set(duplicates["duplicate_of_key"])
    ids: dict[str, str] = {}
    for path in files:
        table = pq.read_table(path, columns=[KEY, id_field])
        for key, value in zip(table.column(KEY).to_pylist(), table.column(id_field).to_pylist(), strict=True):
            if key in wanted:
                ids[key] = str(value)
    return duplicates.assign(duplicate_of=duplicates["duplicate_of_key"].map(ids))


@dataclass
class ExactDuplicateFinder(ProcessingStage[FileGroupTask, FileGroupTask]):
    """Takes one task listing pass 1's Parquet files; writes their exact duplicates (KEY, duplicate_of_key,
    duplicate_of) to `duplicates_path` and passes the task on."""

    duplicates_path: str
    id_field: str = "id"
    name: str = "find_exact_duplicates"

    def inputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def process(self, task: FileGroupTask) -> FileGroupTask:
        with_survivor_ids(find_exact_duplicates(task.data), task.data, self.id_field).to_parquet(
            self.duplicates_path, index=False)
        return task


def duplicate_keys(path: str) -> set[str]:
    """The keys a duplicates table (ExactDuplicateFinder's) drops."""
    return set(pq.read_table(path, columns=[KEY]).column(KEY).to_pylist())


@cache
def _duplicate_table(path: str) -> tuple[np.ndarray, pa.Table]:
    """Loaded once per worker process: the duplicates' keys as sorted 64-bit hashes, and the table (KEY, duplicate_of)
    in the same order, left in Arrow. A Python dict of the same rows held a few hundred bytes of Python objects per
    duplicate on every worker, and pass 2 grew faster than the corpus (10.7 s at 1x Wikipedia, 78.8 s at 4x; 31.2 s
    at 4x with this table). (A `setup` would make this an actor stage, and two actor stages in one pass hold both
    CPUs of a small machine while the writer waits for one.)"""
    with fsspec.open(path, "rb") as f:
        table = pq.read_table(f, columns=[KEY, "duplicate_of"])
    hashes = np.concatenate([_hashes(chunk.to_numpy(zero_copy_only=False)) for chunk in table.column(KEY).chunks]
                            or [np.empty(0, dtype=np.uint64)])
    order = np.argsort(hashes, kind="stable")
    return hashes[order], table.take(pa.array(order))


def _hashes(keys: np.ndarray) -> np.ndarray:
    return pd.util.hash_array(keys.astype(object), categorize=False)


@dataclass
class DuplicateRemover(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Drops the documents listed in `duplicates_path` (a Parquet table KEY, duplicate_of, duplicate_of_key), writing
    each to the rejects with reason `reason`, the id of its cluster's survivor (`duplicate_of`) and `detail`."""

    duplicates_path: str
    rejects_path: str | None = None
    reason: str = "exact_duplicate"
    detail: str = "same text as {duplicate_of} (whitespace aside)"  # formatted per rejected document
    name: str = "exact_dedup"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [KEY]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def process(self, batch: DocumentBatch) -> DocumentBatch:
        hashes, table = _duplicate_table(self.duplicates_path)
        df = batch.to_pandas()
        keys = df[KEY].to_numpy(dtype=object)
        dropped = np.zeros(len(df), dtype=bool)
        survivors: list[str] = []
        if len(hashes) and len(df):
            wanted = _hashes(keys)
            at = np.minimum(np.searchsorted(hashes, wanted), len(hashes) - 1)
            candidate = np.flatnonzero(hashes[at] == wanted)
            rows = pa.array(at[candidate])
            # the keys themselves decide: a hash match alone could be a collision
            same = table.column(KEY).take(rows).to_numpy(zero_copy_only=False) == keys[candidate]
            dropped[candidate[same]] = True
            survivors = table.column("duplicate_of").take(rows).filter(pa.array(same)).to_pylist()
        if dropped.any() and self.rejects_path is not None:
            rejected = drop_internal(df[dropped])
            rejected["stage"] = self.name
            rejected["reason"] = self.reason
            rejected["duplicate_of"] = survivors
            rejected["detail"] = [self.detail.format(duplicate_of=survivor) for survivor in survivors]
            write_rejects(self.rejects_path, self.name, batch.task_id, rejected)
        return DocumentBatch(dataset_name=batch.dataset_name, data=df[~dropped], _metadata=batch._metadata,
                             _stage_perf=batch._stage_perf)


@dataclass
class DropInternalColumns(ProcessingStage[DocumentBatch, DocumentBatch]):
    """The last stage before the curated output is written: the user's fields and ours, nothing internal, and no
    empty batch (the writers would write an empty file, a blank line for JSONL)."""

    name: str = "drop_internal_columns"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], []

    def process(self, batch: DocumentBatch) -> list[DocumentBatch]:
        df = batch.to_pandas()
        if df.empty:  # a batch whose documents were all dropped: no empty file in the output
            return []
        return [DocumentBatch(dataset_name=batch.dataset_name, data=drop_internal(df), _metadata=batch._metadata,
                              _stage_perf=batch._stage_perf)]

"""Fuzzy (near-duplicate) dedup for Han-script text, in NeMo Curator's identify-then-remove shape.

1. `MinHashStage` adds MinHash signatures and LSH band keys (curator_stages/minhash.py; torch, CUDA or CPU).
2. `find_fuzzy_duplicates` reads (id, band keys) of the whole corpus, one band at a time; documents that share a
   band key are candidates; a candidate pair is kept when the two signatures agree on at least `threshold` of their
   minhashes; connected components of the kept pairs are the clusters; the smallest id of a cluster survives (the
   array steps are in curator_stages/lsh.py, which needs no Curator). `FuzzyDuplicateFinder` runs it as a Curator
   stage, on a worker, so that no corpus-wide table lives on the driver.
3. `DuplicateRemover` (curator_stages/dedup.py) drops the others with reason `near_duplicate` and `duplicate_of`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import torch
from nemo_curator.stages.base import ProcessingStage
from nemo_curator.stages.resources import Resources
from nemo_curator.tasks import DocumentBatch, FileGroupTask

from canto_nemo.curator_stages.columns import BANDS_COLUMN, KEY, SIGNATURE_COLUMN
from canto_nemo.curator_stages.language_pack import LanguagePack
from canto_nemo.curator_stages.lsh import candidate_pairs, clusters, empty_duplicates
from canto_nemo.curator_stages.minhash import MinHashConfig, band_keys, resolve_device, signatures


@dataclass
class MinHashStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds `_minhash` (num_perm int64) and `_lsh_bands` (bands int64) to every document."""

    config: MinHashConfig = field(default_factory=MinHashConfig)
    pack: LanguagePack | str | None = None  # folds spelling variants (config.fold_variants); None: no folding
    text_field: str = "text"
    device: str = "auto"
    name: str = "minhash"

    def __post_init__(self) -> None:
        self.device = resolve_device(self.device)
        if self.device == "cuda":
            self.resources = Resources(cpus=1.0, gpus=1.0)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [SIGNATURE_COLUMN, BANDS_COLUMN]

    def process(self, batch: DocumentBatch) -> DocumentBatch:
        df = batch.to_pandas()
        signature = signatures(df[self.text_field].tolist(), self.config, self.device, self.pack)
        df[SIGNATURE_COLUMN] = list(signature.numpy())
        df[BANDS_COLUMN] = list(band_keys(signature, self.config).numpy())
        return DocumentBatch(dataset_name=batch.dataset_name, data=df, _metadata=batch._metadata,
                             _stage_perf=batch._stage_perf)


@dataclass
class FuzzyDuplicateFinder(ProcessingStage[FileGroupTask, FileGroupTask]):
    """Takes one task listing pass 1's Parquet files; writes their near duplicates (KEY, duplicate_of_key,
    duplicate_of) to `duplicates_path`, leaving out the exact duplicates listed in `exclude_path` (if any), and passes
    the task on."""

    config: MinHashConfig
    duplicates_path: str
    exclude_path: str | None = None
    id_field: str = "id"
    name: str = "find_fuzzy_duplicates"

    def inputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def process(self, task: FileGroupTask) -> FileGroupTask:
        from canto_nemo.curator_stages.dedup import duplicate_keys, with_survivor_ids

        exclude = duplicate_keys(self.exclude_path) if self.exclude_path else None
        near = find_fuzzy_duplicates(task.data, self.config, exclude=exclude)
        with_survivor_ids(near, task.data, self.id_field).to_parquet(self.duplicates_path, index=False)
        return task


def find_fuzzy_duplicates(parquet_dir: str | list[str], config: MinHashConfig, exclude: set[str] | None = None
                          ) -> pd.DataFrame:
    """(KEY, duplicate_of_key) for every document in a near-duplicate cluster but the one with the smallest key.
    parquet_dir: pass 1's Parquet (a folder, or a list of files); exclude: keys to leave out (exact duplicates)."""
    dataset = pads.dataset(parquet_dir, format="parquet")
    table = dataset.to_table(columns=[KEY, BANDS_COLUMN])
    all_ids = np.asarray(table.column(KEY).to_pylist(), dtype=object)
    rows = np.argsort(all_ids, kind="stable")  # row order = key order, so "first in bucket" is the smallest key
    if exclude:
        # A hash lookup: np.isin on object arrays compares every key with every excluded key (hours at 4x Wikipedia).
        rows = rows[~pd.Index(all_ids[rows]).isin(list(exclude))]
    ids = all_ids[rows]
    if len(rows) < 2:
        return empty_duplicates()
    bands = np.stack(table.column(BANDS_COLUMN).to_numpy(zero_copy_only=False))[rows]
    pairs = candidate_pairs(bands)
    if len(pairs) == 0:
        return empty_duplicates()

    involved = np.unique(pairs)
    # Only the candidates' signatures are read: the corpus's stay on disk.
    taken = dataset.take(rows[involved], columns=[SIGNATURE_COLUMN]).column(SIGNATURE_COLUMN)
    signature = torch.as_tensor(np.stack(taken.to_numpy(zero_copy_only=False)))
    return clusters(ids, pairs, involved, signature, config.threshold)

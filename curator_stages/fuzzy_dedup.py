"""Fuzzy (near-duplicate) dedup for Han-script text, in NeMo Curator's identify-then-remove shape.

1. `MinHashStage` adds MinHash signatures and LSH band keys (curator_stages/minhash.py; torch, CUDA or CPU).
2. `find_fuzzy_duplicates` reads (id, band keys) of the whole corpus, one band at a time; documents that share a
   band key are candidates; a candidate pair is kept when the two signatures agree on at least `threshold` of their
   minhashes; connected components of the kept pairs are the clusters; the smallest id of a cluster survives.
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
from nemo_curator.tasks import DocumentBatch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from canto_nemo.curator_stages.columns import BANDS_COLUMN, KEY, SIGNATURE_COLUMN
from canto_nemo.curator_stages.language_pack import LanguagePack
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


def star_pairs(bucket: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(pairs, 2): each of `rows` with the lowest row of its bucket (`bucket[i]` is the bucket of `rows[i]`)."""
    by_row = np.argsort(rows, kind="stable")
    order = by_row[np.argsort(bucket[by_row], kind="stable")]  # by bucket, and by row within a bucket
    sorted_keys = bucket[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    first = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    keep = order != first
    return np.stack([rows[order[keep]], rows[first[keep]]], axis=1)


def _candidate_pairs(bands: np.ndarray) -> np.ndarray:
    """(pairs, 2) row indices: each document with the first document (lowest row) of every band bucket it is in."""
    rows = np.arange(len(bands))
    pairs = [star_pairs(bands[:, band], rows) for band in range(bands.shape[1])]
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)


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
    pairs = _candidate_pairs(bands)
    if len(pairs) == 0:
        return empty_duplicates()

    involved = np.unique(pairs)
    # Only the candidates' signatures are read: the corpus's stay on disk.
    taken = dataset.take(rows[involved], columns=[SIGNATURE_COLUMN]).column(SIGNATURE_COLUMN)
    signature = torch.as_tensor(np.stack(taken.to_numpy(zero_copy_only=False)))
    return clusters(ids, pairs, involved, signature, config.threshold)


def clusters(ids: np.ndarray, pairs: np.ndarray, involved: np.ndarray, signature: torch.Tensor,
             threshold: float) -> pd.DataFrame:
    """(KEY, duplicate_of_key) from candidate pairs. ids: every document's key, in ascending order; pairs:
    (n, 2) rows of candidate documents; involved: the sorted rows that occur in pairs, whose signatures `signature`
    holds in that order. A pair is kept when its signatures agree on at least `threshold` of their minhashes; the
    smallest id of each connected component of kept pairs survives."""
    position = np.searchsorted(involved, pairs)
    similar = ((signature[position[:, 0]] == signature[position[:, 1]]).float().mean(dim=1) >= threshold).numpy()
    kept = pairs[similar]

    graph = coo_matrix((np.ones(len(kept)), (kept[:, 0], kept[:, 1])), shape=(len(ids), len(ids)))
    _, component = connected_components(graph, directed=False)
    survivor_row = pd.Series(np.arange(len(ids))).groupby(component).transform("min").to_numpy()
    duplicate = survivor_row != np.arange(len(ids))
    return pd.DataFrame({KEY: ids[duplicate], "duplicate_of_key": ids[survivor_row[duplicate]]})


def empty_duplicates() -> pd.DataFrame:
    return pd.DataFrame({KEY: pd.Series([], dtype=object), "duplicate_of_key": pd.Series([], dtype=object)})

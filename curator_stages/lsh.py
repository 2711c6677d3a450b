"""The LSH half of fuzzy dedup on arrays alone (numpy, scipy, torch; no NeMo Curator): candidate pairs from band
keys, their verification against the signatures, and connected components. `fuzzy_dedup.py` (the Curator stages),
`fuzzy_dedup_rapids.py`, the instruction-data filters and the GPU check (`benchmarks/gpu_check.py`, which runs where
Curator does not) call these.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from canto_nemo.curator_stages.columns import KEY


def star_pairs(bucket: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(pairs, 2): each of `rows` with the lowest row of its bucket (`bucket[i]` is the bucket of `rows[i]`)."""
    by_row = np.argsort(rows, kind="stable")
    order = by_row[np.argsort(bucket[by_row], kind="stable")]  # by bucket, and by row within a bucket
    sorted_keys = bucket[order]
    starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]
    first = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    keep = order != first
    return np.stack([rows[order[keep]], rows[first[keep]]], axis=1)


def candidate_pairs(bands: np.ndarray) -> np.ndarray:
    """(pairs, 2) row indices: each document with the first document (lowest row) of every band bucket it is in."""
    rows = np.arange(len(bands))
    pairs = [star_pairs(bands[:, band], rows) for band in range(bands.shape[1])]
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)


def clusters(ids: np.ndarray, pairs: np.ndarray, involved: np.ndarray, signature: torch.Tensor,
             threshold: float, device: str = "cpu") -> pd.DataFrame:
    """(KEY, duplicate_of_key) from candidate pairs. ids: every document's key, in ascending order; pairs:
    (n, 2) rows of candidate documents; involved: the sorted rows that occur in pairs, whose signatures `signature`
    holds in that order. A pair is kept when its signatures agree on at least `threshold` of their minhashes; the
    smallest id of each connected component of kept pairs survives. device: where the pairs' signatures are
    compared (the one step here with work per minhash); the result is the same on either."""
    kept = pairs[similar_pairs(pairs, involved, signature, threshold, device)]

    graph = coo_matrix((np.ones(len(kept)), (kept[:, 0], kept[:, 1])), shape=(len(ids), len(ids)))
    _, component = connected_components(graph, directed=False)
    survivor_row = pd.Series(np.arange(len(ids))).groupby(component).transform("min").to_numpy()
    duplicate = survivor_row != np.arange(len(ids))
    return pd.DataFrame({KEY: ids[duplicate], "duplicate_of_key": ids[survivor_row[duplicate]]})


def similar_pairs(pairs: np.ndarray, involved: np.ndarray, signature: torch.Tensor, threshold: float,
                  device: str = "cpu") -> np.ndarray:
    """Boolean per candidate pair: do its signatures agree on at least `threshold` of their minhashes? Counted as
    integers (agreements >= ceil(threshold * num_perm)), so CPU and CUDA decide every pair alike."""
    position = torch.as_tensor(np.searchsorted(involved, pairs), device=device)
    signature = signature.to(device)
    agree = (signature[position[:, 0]] == signature[position[:, 1]]).sum(dim=1)
    needed = -(-round(threshold * signature.shape[1] * 1_000_000) // 1_000_000)  # ceil, without float noise
    return (agree >= needed).cpu().numpy()


def empty_duplicates() -> pd.DataFrame:
    return pd.DataFrame({KEY: pd.Series([], dtype=object), "duplicate_of_key": pd.Series([], dtype=object)})

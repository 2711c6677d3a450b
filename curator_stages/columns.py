"""The columns the workflow adds for its own work (a unique key, hashes, signatures), dropped before anything is
written for the user: curated output and rejects hold the user's fields and the stages' documented ones only."""

from __future__ import annotations

import pandas as pd

KEY = "_key"  # unique per document: "<source>:<line>" (users' ids need not be unique)
HASH_COLUMN = "_exact_hash"
SIGNATURE_COLUMN = "_minhash"
BANDS_COLUMN = "_lsh_bands"
INTERNAL_COLUMNS = (KEY, HASH_COLUMN, SIGNATURE_COLUMN, BANDS_COLUMN)


def drop_internal(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=[c for c in INTERNAL_COLUMNS if c in df.columns])

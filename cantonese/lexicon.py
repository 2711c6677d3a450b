"""The Cantonese lexicon: rime-cantonese words as shipped by pycantonese (CC BY 4.0), read once per process."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files


@cache
def jyutping_lexicon() -> dict[str, str]:
    """Word (or character) -> Jyutping, about 122k entries."""
    path = files("pycantonese") / "data" / "rime_cantonese" / "chars_to_jyutping.json"
    with path.open(encoding="utf-8") as f:
        return json.load(f)


@cache
def words() -> frozenset[str]:
    return frozenset(jyutping_lexicon())

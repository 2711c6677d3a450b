"""Unicode property classes (\\p{Han}, \\p{P}, \\p{Extended_Pictographic}) spelled out as code point ranges, so that
Python's standard `re` engine, many times faster than `regex` on character classes, can use them in hot loops; and the
same classes as tables indexed by code point, for counting over a whole batch at once."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

import numpy as np
import regex


@cache
def _every_character() -> str:
    return "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


@cache
def ranges(property_class: str) -> str:
    """The body of a standard-`re` character class matching exactly what `regex` matches with [property_class]."""
    runs = regex.finditer(f"[{property_class}]+", _every_character())
    parts = []
    for run in runs:
        first, last = run.group()[0], run.group()[-1]
        parts.append(re.escape(first) if first == last else f"{re.escape(first)}-{re.escape(last)}")
    return "".join(parts)


@cache
def table(property_class: str) -> np.ndarray:
    """Per code point: does `regex`'s [property_class] match it (a boolean array indexed by code point)."""
    everything = _every_character()
    codes = np.frombuffer(everything.encode("utf-32-le"), dtype=np.uint32)
    out = np.zeros(0x110000, dtype=bool)
    for run in re.finditer(f"[{ranges(property_class)}]+", everything):
        out[codes[run.start() : run.end()]] = True
    return out


@cache
def python_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per code point, as Python's own str methods and `re` see it: whitespace (str.isspace, `re`'s \\s and what
    str.split splits on), a word character (`re`'s \\w: str.isalnum or "_"), punctuation or a symbol (a Unicode
    category P* or S*)."""
    chars = [chr(c) for c in range(0x110000)]
    space = np.fromiter((c.isspace() for c in chars), dtype=bool, count=len(chars))
    word = np.fromiter((c.isalnum() or c == "_" for c in chars), dtype=bool, count=len(chars))
    symbol = np.fromiter((unicodedata.category(c)[0] in "PS" for c in chars), dtype=bool, count=len(chars))
    return space, word, symbol


def code_points(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(every code point of the texts in order, the text each belongs to): one array for a whole batch, so that
    per-character counts are array operations rather than a Python loop per document."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return codes, np.repeat(np.arange(len(texts)), lengths)

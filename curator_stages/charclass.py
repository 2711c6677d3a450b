"""Unicode property classes (\\p{Han}, \\p{P}, \\p{Extended_Pictographic}) spelled out as code point ranges, so that
Python's standard `re` engine, many times faster than `regex` on character classes, can use them in hot loops."""

from __future__ import annotations

import re
from functools import cache

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

"""Variant characters: OpenCC profiles towards Hong Kong Traditional, with a per-text Simplified/Traditional guess."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

import opencc

# What "auto" applies, by the script a text is written in.
AUTO_PROFILES = {"simplified": "s2hk", "traditional": "t2hk"}


@cache
def converter(profile: str) -> opencc.OpenCC:
    try:
        return opencc.OpenCC(profile)
    except Exception as err:  # OpenCC raises a bare RuntimeError naming a missing .json
        msg = f"unknown OpenCC profile {profile!r} (try s2hk, t2hk, s2t, t2s, hk2s)"
        raise ValueError(msg) from err


@cache
def script_marks() -> tuple[re.Pattern, re.Pattern]:
    """Characters that exist only in Simplified, and only in Traditional, writing (per OpenCC's tables)."""
    chars = [chr(c) for c in range(0x4E00, 0xA000)]
    joined = "\n".join(chars)
    to_trad = converter("s2t").convert(joined).split("\n")
    to_simp = converter("t2s").convert(joined).split("\n")
    simplified = [c for c, t, s in zip(chars, to_trad, to_simp, strict=True) if t != c and s == c]
    traditional = [c for c, t, s in zip(chars, to_trad, to_simp, strict=True) if s != c and t == c]
    return (
        re.compile("[" + re.escape("".join(simplified)) + "]"),
        re.compile("[" + re.escape("".join(traditional)) + "]"),
    )


def script_of(text: str) -> str:
    """ "simplified" or "traditional", by which script's own characters the text uses more."""
    simplified, traditional = script_marks()
    return "simplified" if len(simplified.findall(text)) > len(traditional.findall(text)) else "traditional"


def to_standard(profile: str) -> Callable[[str], str]:
    """A function mapping text to Hong Kong standard characters. "auto" picks s2hk or t2hk per text."""
    if profile != "auto":
        return converter(profile).convert

    def convert(text: str) -> str:
        return converter(AUTO_PROFILES[script_of(text)]).convert(text)

    return convert


def fold(texts: list[str]) -> list[str]:
    """Simplified and Traditional spellings onto one form (Traditional -> Simplified is many-to-one, so both land on
    the same text), for duplicate detection. One OpenCC call for the batch, split on a character texts do not hold."""
    joined = "\x1e".join(texts)
    folded = converter("t2s").convert(joined).split("\x1e")
    return folded if len(folded) == len(texts) else [converter("t2s").convert(t) for t in texts]

"""The Cantonese language pack: what the language-agnostic stages in curator_stages/ need to know about Cantonese."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from functools import cache

import regex

from cantonese import dialect, lexicon, pii, variants
from curator_stages.language_pack import DialectResult, LanguagePack, PiiPattern


class CantonesePack(LanguagePack):
    name = "cantonese"
    # Every Han character, CJK Extensions A-G included (𠮶, 𨋢, 𡃁 are Extension B).
    script_class = r"\p{Han}"
    # One Jyutping syllable: initial + final + tone 1-6.
    romanisation_syllable = r"[a-z]{1,6}[1-6]"

    def lexicon(self) -> frozenset[str]:
        return lexicon.words()

    def protected_chars(self) -> frozenset[str]:
        return _lexicon_chars_outside_script()

    def variant_converter(self, profile: str) -> Callable[[str], str]:
        return variants.to_standard(profile)

    def pii_patterns(self) -> Sequence[PiiPattern]:
        return pii.PATTERNS

    def detect_dialect_batch(self, texts: Sequence[str]) -> list[DialectResult]:
        return dialect.detect_dialect_batch(texts)

    def __reduce__(self):
        # Ray pickles stages with their pack; the pack is a singleton and rebuilds its caches on the worker.
        return (_pack, ())


@cache
def _lexicon_chars_outside_script() -> frozenset[str]:
    """Non-ASCII letters and symbols used in lexicon words that are not Han (e.g. 〇-like marks, kana in loans)."""
    han = regex.compile(r"\p{Han}")
    return frozenset(
        c
        for word in lexicon.words()
        for c in word
        if ord(c) > 127 and not han.match(c) and unicodedata.category(c)[0] not in "PZC"
    )


def _pack() -> CantonesePack:
    from cantonese import PACK

    return PACK

"""The Cantonese language pack: what the language-agnostic stages in curator_stages/ need to know about Cantonese."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache

import regex

from canto_nemo.cantonese import corpora, dialect, lexicon, pii, variants
from canto_nemo.curator_stages.language_pack import CjkPack, DialectDetector, PiiPattern


class CantonesePack(CjkPack):
    name = "cantonese"
    language_code = "yue"  # ISO 639-3, the dataset card's `language`
    # One Jyutping syllable: initial + final + tone 1-6.
    romanisation_syllable = r"[a-z]{1,6}[1-6]"
    dialect_labels = dialect.LABELS
    # Keep what is Cantonese or may be: text with no evidence either way (a name, "好。") is not thrown away.
    default_keep_labels = ("cantonese", "neutral", "mixed")
    corpus_scheme = corpora.SCHEME
    corpus_licences = corpora.LICENCES  # the dataset card's licence of each packaged corpus
    target_label = "cantonese"
    standard_label = "written_chinese"

    def lexicon(self) -> frozenset[str]:
        return lexicon.words()

    def protected_chars(self) -> frozenset[str]:
        return _lexicon_chars_outside_script()

    def variant_converter(self, profile: str) -> Callable[[str], str]:
        return variants.to_standard(profile)

    def pii_patterns(self) -> Sequence[PiiPattern]:
        return pii.PATTERNS

    def dialect_detector(self) -> DialectDetector:
        return dialect.detector()

    def fold_variants(self, texts: list[str]) -> list[str]:
        return variants.fold(texts)

    def corpora(self) -> Mapping[str, Callable[[], Iterator[tuple[str, str]]]]:
        return corpora.CORPORA

    def off_script_share(self, text: str) -> float:
        from canto_nemo.cantonese.rewards import simplified_char_share

        return simplified_char_share(text)

    def reward(self, completions: Sequence, **columns) -> list[float]:
        from canto_nemo.cantonese.rewards import dialect_reward

        return dialect_reward(completions, **columns)

    def instruction_data(self):
        from canto_nemo.cantonese import instruct

        return instruct

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
    from canto_nemo.cantonese import PACK

    return PACK

"""CJK-aware quality filters: everything counts characters, never whitespace-separated "words".

Each is a Curator DocumentFilter (score_document / keep_document) with a `reject_reason(score)` naming why a
document goes. Wrap them in `ScoreFilterWithRejects` (or Curator's `ScoreFilter`). The character-class filters and the
repeated n-gram filter also score a whole batch at once (`score_batch`, which ScoreFilterWithRejects uses): the same
scores, to the bit, from array operations over the batch's code points instead of a Python loop per document.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import cache

import numpy as np
import pandas as pd
from nemo_curator.stages.text.filters import DocumentFilter

from canto_nemo.curator_stages.charclass import code_points, python_tables, ranges, table
from canto_nemo.curator_stages.language_pack import LanguagePack, get_pack


def _visible(text: str) -> int:
    return len("".join(text.split()))


@cache
def _symbol_deletions() -> dict[int, None]:
    """str.translate table deleting punctuation and symbols (emoji included): counting by deletion is far faster
    than matching a character class of hundreds of ranges."""
    return {c: None for c in range(0x110000) if unicodedata.category(chr(c))[0] in "PS"}


class CharLengthFilter(DocumentFilter):
    """Keeps documents with min_chars <= non-space characters <= max_chars."""

    def __init__(self, min_chars: int = 10, max_chars: int = 100_000) -> None:
        super().__init__()
        self.min_chars, self.max_chars = min_chars, max_chars
        self._name = "char_length"

    def score_document(self, text: str) -> int:
        return _visible(text)

    def keep_document(self, score: int) -> bool:
        return self.min_chars <= score <= self.max_chars

    def reject_reason(self, score: int) -> str:
        return "too_short" if score < self.min_chars else "too_long"


class ScriptRatioFilter(DocumentFilter):
    """Keeps documents whose share of the pack's script (Han, for Cantonese) is high enough. The share counts units:
    each script character, each run of letters or digits of another script (an English word is one unit, as a Han
    character is), each other symbol. So code-switched Cantonese ("我聽朝要submit個report") scores as it reads."""

    def __init__(self, pack: LanguagePack | str, min_ratio: float = 0.3) -> None:
        super().__init__()
        self.min_ratio = min_ratio
        script = ranges(get_pack(pack).script_class)
        self._script = re.compile(f"[{script}]")
        # \w is letters, digits and "_": a run of them outside the script is one word
        self._other_units = re.compile(f"(?:(?![{script}])\\w)+|(?![{script}])\\S")
        self._script_class = get_pack(pack).script_class
        self._name = "script_ratio"

    def score_document(self, text: str) -> float:
        script = len(self._script.findall(text))
        units = script + len(self._other_units.findall(text))
        return script / units if units else 0.0

    def score_batch(self, texts: pd.Series) -> pd.Series:
        codes, text_of = code_points(list(texts))
        space, word, _ = python_tables()
        script = table(self._script_class)[codes]
        other_word = word[codes] & ~script
        run_start = other_word.copy()  # where a run of other-script letters and digits begins, within one text
        run_start[1:] &= ~(other_word[:-1] & (text_of[1:] == text_of[:-1]))
        single = ~space[codes] & ~word[codes] & ~script  # any other visible character is a unit of its own
        n = len(texts)
        script_n = np.bincount(text_of, weights=script, minlength=n)
        units = script_n + np.bincount(text_of, weights=run_start | single, minlength=n)
        return pd.Series(np.divide(script_n, units, out=np.zeros(n), where=units > 0), index=texts.index)

    def keep_document(self, score: float) -> bool:
        return score >= self.min_ratio

    def reject_reason(self, score: float) -> str:
        return "low_script_ratio"


class SymbolRatioFilter(DocumentFilter):
    """Drops documents where punctuation, symbols and emoji make up more than max_ratio of non-space characters."""

    def __init__(self, max_ratio: float = 0.4) -> None:
        super().__init__()
        self.max_ratio = max_ratio
        self._name = "symbol_ratio"

    def score_document(self, text: str) -> float:
        visible = _visible(text)
        symbols = len(text) - len(text.translate(_symbol_deletions()))
        return symbols / visible if visible else 1.0

    def score_batch(self, texts: pd.Series) -> pd.Series:
        codes, text_of = code_points(list(texts))
        space, _, symbol = python_tables()
        n = len(texts)
        visible = np.bincount(text_of, weights=~space[codes], minlength=n)
        symbols = np.bincount(text_of, weights=symbol[codes], minlength=n)
        return pd.Series(np.divide(symbols, visible, out=np.ones(n), where=visible > 0), index=texts.index)

    def keep_document(self, score: float) -> bool:
        return score <= self.max_ratio

    def reject_reason(self, score: float) -> str:
        return "too_many_symbols"


class RepeatedLinesFilter(DocumentFilter):
    """Drops documents where more than max_fraction of the characters sit in lines that occur more than once."""

    def __init__(self, max_fraction: float = 0.3) -> None:
        super().__init__()
        self.max_fraction = max_fraction
        self._name = "repeated_lines"

    def score_document(self, text: str) -> float:
        lines = [line.strip() for line in text.split("\n") if line.strip()]
        seen: dict[str, int] = {}
        for line in lines:
            seen[line] = seen.get(line, 0) + 1
        total = sum(len(line) for line in lines)
        repeated = sum(len(line) * (count - 1) for line, count in seen.items() if count > 1)
        return repeated / total if total else 0.0

    def keep_document(self, score: float) -> bool:
        return score <= self.max_fraction

    def reject_reason(self, score: float) -> str:
        return "repeated_lines"


# Odd 64-bit constants (any would do): the base of the window hash, and the multiplier that mixes in the text's number.
_WINDOW_BASE, _TEXT_MIX = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)


class RepeatedCharNGramFilter(DocumentFilter):
    """Drops documents where more than max_fraction of the characters are covered by character n-grams that occur
    more than once (Gopher's duplicate n-gram fraction, on characters: Han text has no spaces to split on)."""

    def __init__(self, n: int = 10, max_fraction: float = 0.6) -> None:
        super().__init__()
        self.n, self.max_fraction = n, max_fraction
        self._name = "repeated_ngrams"

    def score_document(self, text: str) -> float:
        chars = "".join(text.split())
        n = self.n
        if len(chars) < 2 * n:
            return 0.0
        grams = [chars[i : i + n] for i in range(len(chars) - n + 1)]
        counts = Counter(grams)
        if len(counts) == len(grams):
            return 0.0
        covered = bytearray(len(chars))
        for i in [i for i, gram in enumerate(grams) if counts[gram] > 1]:
            covered[i : i + n] = b"\x01" * n
        return covered.count(1) / len(chars)

    def score_batch(self, texts: pd.Series) -> pd.Series:
        """score_document's scores for a whole batch: every window's n characters hashed to 64 bits with the text's
        number, repeats found in one hash table, and every repeat checked against the window it repeats, character by
        character, so that a hash collision cannot change a score (a text with one is scored by score_document)."""
        n, docs = self.n, len(texts)
        codes, text_of = code_points(list(texts))
        space, _, _ = python_tables()
        visible = ~space[codes]
        codes, text_of = codes[visible].astype(np.uint64), text_of[visible]
        length = np.bincount(text_of, minlength=docs)
        scores = np.zeros(docs)
        windows = len(codes) - n + 1
        if windows > 0:
            key = np.zeros(windows, dtype=np.uint64)
            for k in range(n):  # a polynomial in the characters, modulo 2^64 (numpy's uint64 arithmetic wraps)
                key = key * _WINDOW_BASE + codes[k : k + windows]
            key ^= text_of[:windows].astype(np.uint64) * _TEXT_MIX
            at = np.flatnonzero((text_of[:windows] == text_of[n - 1 :]) & (length[text_of[:windows]] >= 2 * n))
            key = key[at].view(np.int64)
            repeated = pd.Series(key).duplicated(keep=False).to_numpy()
            start, key = at[repeated], key[repeated]
            group, _ = pd.factorize(key)
            first = start[np.unique(group, return_index=True)[1]][group]  # each repeat's group's first window
            same = text_of[start] == text_of[first]
            for k in range(n):
                same &= codes[start + k] == codes[first + k]
            collided = np.isin(group, group[~same])
            cover = np.cumsum(np.bincount(start, minlength=len(codes) + n) - np.bincount(start + n,
                                                                                          minlength=len(codes) + n))
            covered = np.bincount(text_of[cover[: len(codes)] > 0], minlength=docs)
            scores = np.divide(covered, length, out=scores, where=length >= 2 * n)
            for d in np.unique(text_of[start[collided]]).tolist():
                scores[d] = self.score_document(texts.iloc[d])
        return pd.Series(scores, index=texts.index)

    def keep_document(self, score: float) -> bool:
        return score <= self.max_fraction

    def reject_reason(self, score: float) -> str:
        return "repeated_ngrams"

"""Decontamination: drop every document that shares a long run of characters with an evaluation set, so that what
measures a model never trains it (the practice of GPT-3, Llama and NeMo Curator 0.x's task decontamination).

Han text has no words to count, so the unit is the token: each character of the pack's script (spelling variants
folded by the pack: Simplified and Traditional are one text) is one token, and each run of Latin letters and digits
(Jyutping "tei1", an English word, "2019"; case and full width folded) is one token, as the 13-gram rule counts
words; everything else (punctuation, spaces, emoji) is no token. A document is contaminated when it holds any
`ngram`-token run of an evaluation text, or is essentially a whole evaluation text of `min_chars` to `ngram - 1`
tokens (short sentences, common in Cantonese test sets: the document holds it and at most as many tokens again; inside
a long document such a sentence is a common phrase, 燃燒化石燃料, not a copy of the test). Counting Latin runs is what
finds a code-mixed sentence ("我都唔知你哋咩tei1唔tei1si2"), which has too few Han characters to match on those alone;
a short one whose tokens hold `ngram` characters or more, Latin letters counted, is matched inside a document of any
length ("用angle-sum-of-triangle嘅咩": 7 tokens, 21 characters).
Both defaults were measured (benchmarks/decontamination.py): English practice's 13 words are far longer than 13
characters. The evaluation-set index is built with the same tokens.

Evaluation sets come from configuration: files or folders in any format the readers take (a `.json` file may also be
one JSON array of records); every string field of every record counts. They are read once per worker. A rejected
document's reason is `eval_overlap`, and its detail names the set and the matching characters.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from nemo_curator.stages.text.filters import DocumentFilter

from canto_nemo.curator_stages.language_pack import LanguagePack, built_once, get_pack
from canto_nemo.curator_stages.minhash import MinHashConfig, normalise_for_shingles
from canto_nemo.curator_stages.rejects import ScoreFilterWithRejects

NGRAM = 13
MIN_CHARS = 6
NOT_DATA = {"LICENSE", "LICENCE", "README", "COPYING", "NOTICE"}  # beside a data set, not part of it
# A Latin run becomes one character of planes 15-16 (private use), so that a document's tokens stay one string and
# its windows stay the vectorised code-point windows; a 17-bit hash of the run picks the character (two runs sharing
# one can only matter when the twelve tokens around them match as well).
_LATIN = re.compile(r"[A-Za-z0-9\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+")
_PRIVATE = "\U000f0000-\U0010fffd"
_PRIVATE_RE = re.compile(f"[{_PRIVATE}]")
_LATIN_CODES = 0x10FFFD - 0xF0000 + 1
_FULL_WIDTH = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}


def _latin_token(run: re.Match) -> str:
    return _latin_char(run.group())


@lru_cache(maxsize=1 << 16)
def _latin_char(run: str) -> str:
    return chr(0xF0000 + zlib.crc32(run.translate(_FULL_WIDTH).lower().encode()) % _LATIN_CODES)


def evaluation_texts(paths: list[str]) -> list[tuple[str, str]]:
    """(set name, text) of every string field of every record under the paths."""
    from canto_nemo.curator_stages.readers import expand_inputs, partitions, read_partition

    found: list[tuple[str, str]] = []
    for path, source in expand_inputs(list(paths)):
        if Path(path).stem.upper() in NOT_DATA:
            continue
        if path.endswith(".json") and Path(path).read_text(encoding="utf-8").lstrip().startswith("["):
            records = json.loads(Path(path).read_text(encoding="utf-8"))
            found += [(source, v) for r in records if isinstance(r, dict) for v in r.values() if isinstance(v, str)]
            continue
        for part_path, config in partitions([path]):
            for record in read_partition(part_path, config):
                if "reason" not in record:
                    found += [(source, v) for k, v in record.items()
                              if isinstance(v, str) and k not in ("id", "source", "_key")]
    return found


def _keys(codes: np.ndarray, n: int) -> np.ndarray:
    """The 64-bit key of every n-token window of `codes` (code points, uint64): the sum of each position's code times
    that position's random odd multiplier, modulo 2**64 (numpy's wrapping arithmetic, no division: half the time of
    two modular rolling hashes, which paid for the extra tokens of Latin runs)."""
    windows = len(codes) - n + 1
    if windows <= 0:
        return np.empty(0, dtype=np.uint64)
    multipliers = _multipliers(n)
    keys = codes[:windows] * multipliers[0]
    for k in range(1, n):
        keys += codes[k : k + windows] * multipliers[k]
    return keys


@lru_cache
def _multipliers(n: int) -> np.ndarray:
    # Fixed, so that every worker's keys agree. Two windows that differ share a key with a chance of about 2**-40 or
    # less (their codes differ by under 2**21): no false match in practice among millions of windows.
    return np.random.default_rng(13).integers(0, 2**63, size=n, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)


class EvalOverlapFilter(DocumentFilter):
    """Scores a document with "" when clean, else "SET: the matching characters"; keeps the clean ones."""

    def __init__(self, eval_sets: list[str], pack: LanguagePack | str, ngram: int = NGRAM,
                 min_chars: int = MIN_CHARS) -> None:
        super().__init__()
        if not eval_sets:
            msg = "decontamination needs at least one evaluation set (decontaminate=[PATH,...])"
            raise ValueError(msg)
        from canto_nemo.curator_stages.readers import expand_inputs

        expand_inputs(list(eval_sets))  # a missing path fails now, before any work
        self.eval_sets, self.pack, self.ngram, self.min_chars = list(eval_sets), pack, ngram, min_chars
        self._name = "decontaminate"

    def _normalise(self, texts: list[str]) -> list[str]:
        """Each text as its tokens, one character each: the pack's script characters with variants folded, and one
        private-use character per Latin run (see `_latin_token`)."""
        from canto_nemo.curator_stages.charclass import ranges

        pack = get_pack(self.pack)
        not_token = built_once(pack, "not_token",
                               lambda: re.compile(f"[^{ranges(pack.script_class)}{_PRIVATE}]+"))
        folded = normalise_for_shingles(texts, MinHashConfig(fold_variants=True, ignore_punctuation=False), pack)
        return [not_token.sub("", _LATIN.sub(_latin_token, _PRIVATE_RE.sub("", t))) for t in folded]

    def _tokens(self, text: str) -> list[str]:
        """The tokens of one text as text (a Latin run lower-cased): what a reject's detail shows."""
        from canto_nemo.curator_stages.charclass import ranges

        pack = get_pack(self.pack)
        token = built_once(pack, "token", lambda: re.compile(f"[{ranges(pack.script_class)}]|{_LATIN.pattern}"))
        (folded,) = normalise_for_shingles([text], MinHashConfig(fold_variants=True, ignore_punctuation=False), pack)
        return [t.translate(_FULL_WIDTH).lower() for t in token.findall(_PRIVATE_RE.sub("", folded))]

    def _index(self) -> tuple[list[str], dict[int, tuple[np.ndarray, np.ndarray]], dict[str, list[tuple]]]:
        """The evaluation sets' names; per length (ngram, and every shorter one that a whole evaluation text has)
        sorted keys and their set; and the short code-mixed texts matched anywhere (see `_build`), by each of their
        Latin tokens. Built on the worker, once per process."""
        return built_once(get_pack(self.pack), "eval_token_index", self._build, tuple(self.eval_sets), self.ngram,
                          self.min_chars)

    def _build(self) -> tuple[list[str], dict[int, tuple[np.ndarray, np.ndarray]], dict[str, list[tuple]]]:
        pairs = evaluation_texts(self.eval_sets)
        names = sorted({name for name, _ in pairs})
        set_of = {name: i for i, name in enumerate(names)}
        by_length: dict[int, list[tuple[np.ndarray, int]]] = {}
        anywhere: dict[str, list[tuple[str, int, str]]] = {}
        for (name, original), text in zip(pairs, self._normalise([t for _, t in pairs]), strict=True):
            if len(text) >= self.ngram:
                by_length.setdefault(self.ngram, []).append((_keys(_codes(text), self.ngram), set_of[name]))
            elif len(text) >= self.min_chars:
                by_length.setdefault(len(text), []).append((_keys(_codes(text), len(text)), set_of[name]))
                latin = set(_PRIVATE_RE.findall(text))
                tokens = self._tokens(original) if latin else []
                # Fewer than ngram tokens but ngram characters or more, Latin letters counted one each: a sentence
                # with English or Jyutping words in it ("用angle-sum-of-triangle嘅咩") is no common phrase, so its
                # copy counts inside a document of any length. Han-only text never qualifies: its tokens are its
                # characters.
                if sum(map(len, tokens)) >= self.ngram:
                    for char in latin:
                        anywhere.setdefault(char, []).append((text, set_of[name], _joined(tokens)))
        index = {}
        for length, entries in by_length.items():
            keys = np.concatenate([k for k, _ in entries])
            sets = np.concatenate([np.full(len(k), s) for k, s in entries])
            order = np.argsort(keys, kind="stable")
            index[length] = (keys[order], sets[order])
        return names, index, anywhere

    def score_document(self, text: str) -> str:
        names, index, anywhere = self._index()
        (normalised,) = self._normalise([text])
        codes = _codes(normalised)
        for length, (keys, sets) in sorted(index.items(), reverse=True):
            if length < self.ngram and len(codes) > 2 * length:
                continue  # a short test sentence inside a long document is a common phrase, not a copy of the test
            found = _keys(codes, length)
            if not len(found):
                continue
            at = np.minimum(np.searchsorted(keys, found), len(keys) - 1)
            hit = np.flatnonzero(keys[at] == found)
            if len(hit):
                start = int(hit[0])
                span = self._tokens(text)[start : start + length]
                return f"{names[int(sets[at[start]])]}: {_joined(span)}"
        if anywhere:
            for char in set(_PRIVATE_RE.findall(normalised)) & anywhere.keys():
                for short, evaluation_set, shown in anywhere[char]:
                    if short in normalised:
                        return f"{names[evaluation_set]}: {shown}"
        return ""

    def keep_document(self, score: str) -> bool:
        return not score

    def reject_reason(self, score: str) -> str:
        return "eval_overlap"

    def reject_detail(self, score: str) -> str:
        evaluation_set, span = score.split(": ", 1)
        tokens = len(re.findall(r"[a-z0-9]+|[^ a-z0-9]", span))
        return f"shares {tokens} tokens with {evaluation_set}: {span} (folded)"


def _joined(tokens: list[str]) -> str:
    """Tokens as text again: Han characters side by side, a space on each side of a Latin run."""
    return re.sub(r" {2,}", " ", "".join(f" {t} " if t.isascii() else t for t in tokens)).strip()


@dataclass
class Decontaminate(ScoreFilterWithRejects):
    """The curation stage: Curator's ScoreFilter (with rejects) around EvalOverlapFilter. An empty `eval_sets` is a
    stage that keeps everything."""

    filter_obj: DocumentFilter | None = None
    eval_sets: list[str] = field(default_factory=list)
    pack: LanguagePack | str | None = None
    ngram: int = NGRAM
    min_chars: int = MIN_CHARS
    name: str = "decontaminate"

    def __post_init__(self) -> None:
        if self.filter_obj is None:
            self.filter_obj = (EvalOverlapFilter(self.eval_sets, self.pack, self.ngram, self.min_chars)
                               if self.eval_sets else _KeepAll())
        super().__post_init__()


class _KeepAll(DocumentFilter):
    """No evaluation sets configured: nothing to decontaminate against."""

    def __init__(self) -> None:
        super().__init__()
        self._name = "decontaminate"

    def score_document(self, text: str) -> str:
        return ""

    def keep_document(self, score: str) -> bool:
        return True

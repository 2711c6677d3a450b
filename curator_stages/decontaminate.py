"""Decontamination: drop every document that shares a long run of characters with an evaluation set, so that what
measures a model never trains it (the practice of GPT-3, Llama and NeMo Curator 0.x's task decontamination).

Han text has no words to count, so the unit is the character: a document is contaminated when, reduced to the pack's
script (Han characters, spelling variants folded by the pack), it holds any `ngram`-character run of an evaluation
text, or is essentially a whole evaluation text of `min_chars` to `ngram - 1` characters (short sentences, common in
Cantonese test sets: the document holds it and at most as many characters again; inside a long document such a
sentence is a common phrase, 燃燒化石燃料, not a copy of the test). Both defaults were measured on Han text
(benchmarks/decontamination.py): English practice's 13 words are far longer than 13 characters.

Evaluation sets come from configuration: files or folders in any format the readers take (a `.json` file may also be
one JSON array of records); every string field of every record counts. They are read once per worker. A rejected
document's reason is `eval_overlap`, and its detail names the set and the matching characters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from nemo_curator.stages.text.filters import DocumentFilter

from canto_nemo.curator_stages.language_pack import LanguagePack, built_once, get_pack
from canto_nemo.curator_stages.minhash import MinHashConfig, normalise_for_shingles
from canto_nemo.curator_stages.rejects import ScoreFilterWithRejects

NGRAM = 13
MIN_CHARS = 6
NOT_DATA = {"LICENSE", "LICENCE", "README", "COPYING", "NOTICE"}  # beside a data set, not part of it
_P1, _B1 = (1 << 31) - 1, 1_000_003
_P2, _B2 = (1 << 31) - 19, 999_983  # two 31-bit rolling hashes make one 62-bit key: no false matches in practice


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
    """The 62-bit key of every n-character window of `codes` (code points, int64)."""
    windows = len(codes) - n + 1
    if windows <= 0:
        return np.empty(0, dtype=np.int64)
    h1 = np.zeros(windows, dtype=np.int64)
    h2 = np.zeros(windows, dtype=np.int64)
    for k in range(n):
        h1 = (h1 * _B1 + codes[k : k + windows]) % _P1
        h2 = (h2 * _B2 + codes[k : k + windows]) % _P2
    return (h1 << 31) | h2


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


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
        """The pack's script characters only, variants folded: a run of Latin letters ("International", a sentence
        of an English source text) is not what makes a Han-text corpus contaminated, and would match common words."""
        import re

        from canto_nemo.curator_stages.charclass import ranges

        pack = get_pack(self.pack)
        not_script = built_once(pack, "not_script", lambda: re.compile(f"[^{ranges(pack.script_class)}]+"))
        folded = normalise_for_shingles(texts, MinHashConfig(fold_variants=True, ignore_punctuation=False), pack)
        return [not_script.sub("", t) for t in folded]

    def _index(self) -> tuple[list[str], dict[int, tuple[np.ndarray, np.ndarray]]]:
        """The evaluation sets' names, and per length (ngram, and every shorter one that a whole evaluation text has)
        sorted keys and their set; built on the worker, once per process."""
        return built_once(get_pack(self.pack), "eval_index", self._build, tuple(self.eval_sets), self.ngram,
                          self.min_chars)

    def _build(self) -> tuple[list[str], dict[int, tuple[np.ndarray, np.ndarray]]]:
        pairs = evaluation_texts(self.eval_sets)
        names = sorted({name for name, _ in pairs})
        set_of = {name: i for i, name in enumerate(names)}
        by_length: dict[int, list[tuple[np.ndarray, int]]] = {}
        for (name, _), text in zip(pairs, self._normalise([t for _, t in pairs]), strict=True):
            if len(text) >= self.ngram:
                by_length.setdefault(self.ngram, []).append((_keys(_codes(text), self.ngram), set_of[name]))
            elif len(text) >= self.min_chars:
                by_length.setdefault(len(text), []).append((_keys(_codes(text), len(text)), set_of[name]))
        index = {}
        for length, entries in by_length.items():
            keys = np.concatenate([k for k, _ in entries])
            sets = np.concatenate([np.full(len(k), s) for k, s in entries])
            order = np.argsort(keys, kind="stable")
            index[length] = (keys[order], sets[order])
        return names, index

    def score_document(self, text: str) -> str:
        names, index = self._index()
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
                return f"{names[int(sets[at[start]])]}: {normalised[start : start + length]}"
        return ""

    def keep_document(self, score: str) -> bool:
        return not score

    def reject_reason(self, score: str) -> str:
        return "eval_overlap"

    def reject_detail(self, score: str) -> str:
        evaluation_set, span = score.split(": ", 1)
        return f"shares {len(span)} characters with {evaluation_set}: {span} (folded)"


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

"""Readers for the Cantonese corpora that pycantonese ships: HKCanCor, Common Voice yue, CTCPC.

Each yields (local id, text). Inputs name them as "pycantonese:hkcancor", "pycantonese:common_voice",
"pycantonese:ctcpc". The data is read from the installed package; nothing is downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

CORPORA = ("hkcancor", "common_voice", "ctcpc")
URI_PREFIX = "pycantonese:"

# HKCanCor transcribes punctuation with ASCII marks; written Cantonese uses the full-width ones.
_HKCANCOR_PUNCT = {".": "。", ",": "，", "?": "？", "!": "！"}


def is_corpus_uri(path: str) -> bool:
    return path.startswith(URI_PREFIX)


def iter_corpus(uri: str) -> Iterator[tuple[str, str]]:
    name = uri.removeprefix(URI_PREFIX)
    if name == "hkcancor":
        yield from _hkcancor()
    elif name in ("common_voice", "ctcpc"):
        path = files("pycantonese") / "data" / name / "sents.json"
        with path.open(encoding="utf-8") as f:
            for i, sentence in enumerate(json.load(f), start=1):
                yield str(i), sentence
    else:
        msg = f"unknown packaged corpus {uri!r}: use one of {[URI_PREFIX + c for c in CORPORA]}"
        raise ValueError(msg)


def _hkcancor() -> Iterator[tuple[str, str]]:
    """One document per conversation file, one utterance per line."""
    import pycantonese

    corpus = pycantonese.hkcancor()
    for path, utterances in zip(corpus.file_paths, corpus.words(by_utterance=True, by_file=True), strict=True):
        lines = ["".join(_HKCANCOR_PUNCT.get(w, w) for w in words) for words in utterances]
        yield Path(path).stem, "\n".join(line for line in lines if line)

"""Readers for the Cantonese corpora that pycantonese ships: HKCanCor, Common Voice yue, CTCPC.

Each yields (local id, text). Inputs name them as "pycantonese:hkcancor", "pycantonese:common_voice",
"pycantonese:ctcpc". The data is read from the installed package; nothing is downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

SCHEME = "pycantonese"

# HKCanCor transcribes punctuation with ASCII marks; written Cantonese uses the full-width ones.
_HKCANCOR_PUNCT = {".": "。", ",": "，", "?": "？", "!": "！"}


def hkcancor() -> Iterator[tuple[str, str]]:
    """One document per conversation file, one utterance per line."""
    import pycantonese

    corpus = pycantonese.hkcancor()
    for path, utterances in zip(corpus.file_paths, corpus.words(by_utterance=True, by_file=True), strict=True):
        lines = ["".join(_HKCANCOR_PUNCT.get(w, w) for w in words) for words in utterances]
        yield Path(path).stem, "\n".join(line for line in lines if line)


def _sentences(name: str) -> Iterator[tuple[str, str]]:
    with (files("pycantonese") / "data" / name / "sents.json").open(encoding="utf-8") as f:
        for i, sentence in enumerate(json.load(f), start=1):
            yield str(i), sentence


def common_voice() -> Iterator[tuple[str, str]]:
    return _sentences("common_voice")


def ctcpc() -> Iterator[tuple[str, str]]:
    return _sentences("ctcpc")


# Their licences as pycantonese 5.0.0 ships them (Hugging Face ids), from each corpus's LICENSE.txt and README.md.
LICENCES = {
    f"{SCHEME}:hkcancor": ("cc-by-4.0", "pycantonese/data/hkcancor/LICENSE.txt (CC BY 4.0)"),
    f"{SCHEME}:common_voice": ("mpl-2.0", "pycantonese/data/common_voice/LICENSE.txt (Mozilla Public License 2.0)"),
    f"{SCHEME}:ctcpc": ("cc0-1.0", "pycantonese/data/ctcpc/LICENSE.txt (CC0 1.0 Universal)"),
}

CORPORA = {"hkcancor": hkcancor, "common_voice": common_voice, "ctcpc": ctcpc}


def iter_corpus(uri: str) -> Iterator[tuple[str, str]]:
    """(local id, text) of `pycantonese:NAME`."""
    name = uri.removeprefix(f"{SCHEME}:")
    if name not in CORPORA:
        msg = f"unknown packaged corpus {uri!r}: use one of {[f'{SCHEME}:{c}' for c in CORPORA]}"
        raise ValueError(msg)
    return CORPORA[name]()

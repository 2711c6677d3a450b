"""The Cantonese language data of the mined vocabulary (`canto_nemo.vocabulary.mine`): the written-Chinese side the
corpus is held against, the segmenter used as a second signal, and the annotations of each entry.

What the miner may use to rank (selection): the written side of ../shared/data/dialect_train (kaifangcidian's parallel
sentences, DRCD, UD Chinese GSD and PUD, moztw), jieba's dictionary frequencies (written Chinese), pycantonese's
segmenter, and pycantonese's tagger (trained on HKCanCor alone: its proper nouns are not marked specific). What it must
never use to rank: pycantonese's rime-cantonese lexicon, kaifangcidian's word list (`kfcd_words.tsv`) and
`cmn2yue.dic`: those are the check of the benchmark. They are read here only to annotate the entries already chosen
(Jyutping from pycantonese, which reads rime-cantonese; written-Chinese equivalents from the word lists), after the
ranking is fixed.

`specific_words(DIR)` is the vocabulary's Cantonese-specific words; `evidence_detector(DIR)` is the dialect judge
with those words as extra evidence (`NgramDialectModel.with_evidence`: the judge is not retrained, each word's n-gram
weighs at least `dialect.EVIDENCE_WEIGHT` towards Cantonese).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np

from canto_nemo.cantonese import dialect, train_dialect

# Where a sentence ends, for cutting example sentences out of documents.
SENTENCE_ENDS = "。！？!?；;\n"


class CantoneseVocabularyData:
    """What `canto_nemo.vocabulary.mine` asks of a language (a pack's `vocab.VOCABULARY`)."""

    script_class = r"\p{Han}"
    sentence_ends = SENTENCE_ENDS

    def __init__(self, data: Path | None = None) -> None:
        self.data = Path(data) if data is not None else train_dialect.shared_data()

    def fold(self, words: Sequence[str]) -> list[str]:
        """One spelling for Hong Kong, Taiwan and Simplified forms (the written references use the latter two)."""
        from canto_nemo.cantonese import variants

        return variants.fold(list(words))

    def reference_texts(self) -> list[str]:
        """Written-Chinese texts (Taiwan and mainland wording): the written side of dialect_train, without the word
        lists (kfcd_words, cmn2yue), which are the benchmark's check."""
        if not (self.data / "dialect_train").is_dir():
            msg = (f"the vocabulary's written-Chinese references are {self.data / 'dialect_train'}, which is not "
                   "there: set CANTO_NEMO_SHARED_DATA to the folder that holds dialect_train/")
            raise FileNotFoundError(msg)
        texts = train_dialect.written_texts(self.data)
        return [t for source, items in texts.items() if source not in ("kfcd_words", "cmn2yue") for t in items]

    def reference_frequencies(self) -> dict[str, int]:
        """jieba's dictionary: written-Chinese word (Simplified) -> frequency."""
        return jieba_frequencies()

    def segment(self, texts: Sequence[str]) -> list[list[str]]:
        """pycantonese's word segmentation of each text (loaded once per process)."""
        import pycantonese

        return [pycantonese.segment(t) for t in texts]

    def annotate(self, words: Sequence[str], contexts: Sequence[Sequence[str]]) -> list[dict]:
        """Per word: Jyutping, part of speech (UD tag, from pycantonese's tagger on the word in its example sentences,
        the most common; alone where no sentence segments it as one word) and written-Chinese equivalents from the
        dialect_train word lists. Called on the entries already ranked; the miner declines a proper noun as a name."""
        import pycantonese

        equivalents = written_equivalents(self.data)
        tags = sentence_tags(sorted({s for sentences in contexts for s in sentences}))
        out = []
        for word, sentences in zip(words, contexts, strict=True):
            syllables = [jp for _, jp in pycantonese.characters_to_jyutping(word)]
            counted = Counter(tag for s in sentences for w, tag in tags[s] if w == word)
            pos = counted.most_common(1)[0][0] if counted else pycantonese.pos_tag([word])[0][1]
            out.append(
                {
                    "jyutping": " ".join(syllables) if syllables and all(syllables) else None,
                    "pos": pos,
                    "written_equivalents": equivalents.get(word, []),
                }
            )
        return out


TAG_BATCH = 500  # sentences segmented and tagged in one call: per-call overhead dominates short sentences


def sentence_tags(sentences: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """Each sentence's (word, UD tag) pairs from pycantonese's segmenter and tagger, many sentences per call: joined
    by a full stop (without their spaces, which the segmenter drops) and cut apart again by the words' lengths; a
    batch whose words do not add up to its text is done one sentence at a time."""
    import pycantonese

    out: dict[str, list[tuple[str, str]]] = {}
    for first in range(0, len(sentences), TAG_BATCH):
        batch = sentences[first : first + TAG_BATCH]
        compact = ["".join(s.split()) for s in batch]
        joined = "。".join(compact) + "。"
        words = pycantonese.segment(joined)
        if sum(len(w) for w in words) != len(joined):
            for s in batch:
                out[s] = pycantonese.pos_tag(pycantonese.segment(s)) if s.strip() else []
            continue
        tagged = pycantonese.pos_tag(words)
        ends = np.cumsum([len(c) + 1 for c in compact])
        at, i = 0, 0
        pairs: list[list[tuple[str, str]]] = [[] for _ in batch]
        for word, tag in tagged:
            while at >= ends[i]:
                i += 1
            pairs[i].append((word, tag))
            at += len(word)
        out.update(zip(batch, pairs, strict=True))
    return out


@cache
def jieba_frequencies() -> dict[str, int]:
    """jieba's dict.txt (about 349k written-Chinese words, Simplified, with frequencies), as jieba ships it."""
    path = files("jieba") / "dict.txt"
    frequencies: dict[str, int] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            parts = line.split(" ")
            if len(parts) >= 2 and parts[1].isdigit():
                frequencies[parts[0]] = frequencies.get(parts[0], 0) + int(parts[1])
    return frequencies


@cache
def written_equivalents(data: Path, keep_same: bool = False) -> dict[str, list[str]]:
    """Cantonese word -> its written-Chinese equivalents, from kfcd_words.tsv (`word<TAB>gloss`) and cmn2yue.dic
    (`Mandarin|Cantonese`), in file order, without repeats; with keep_same, also a word both write alike."""
    train = data / "dialect_train"
    pairs: list[tuple[str, str]] = []
    with (train / "kfcd_words.tsv").open(encoding="utf-8") as f:
        pairs += [tuple(line.rstrip("\n").split("\t")[:2]) for line in f if "\t" in line]
    with (train / "cmn2yue.dic").open(encoding="utf-8") as f:
        next(f)  # header
        pairs += [tuple(reversed(line.rstrip("\n").split("|")[:2])) for line in f if "|" in line]
    out: dict[str, list[str]] = {}
    for cantonese, written in pairs:
        written = written.strip()
        if written and (keep_same or written != cantonese) and written not in out.setdefault(cantonese, []):
            out[cantonese].append(written)
    return out


def specific_words(vocab_dir: str | Path, min_specificity: float | None = None) -> list[str]:
    """The Cantonese-specific words of a vocabulary folder (`canto-nemo vocab`'s vocab.jsonl), most specific first;
    with min_specificity, those at or above that score instead of the ones the miner marked."""
    path = Path(vocab_dir) / "vocab.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no vocabulary at {vocab_dir}: expected {path} (written by canto-nemo vocab)")
    with path.open(encoding="utf-8") as f:
        entries = [json.loads(line) for line in f if line.strip()]
    chosen = [
        e
        for e in entries
        if (e["cantonese_specific"] if min_specificity is None else e["cantonese_specificity"] >= min_specificity)
    ]
    return [e["word"] for e in sorted(chosen, key=lambda e: -e["cantonese_specificity"])]


def evidence_detector(vocab_dir: str | Path, weight: float = dialect.EVIDENCE_WEIGHT) -> dialect.NgramDialectModel:
    """The shipped dialect judge with the vocabulary's Cantonese-specific words as evidence of Cantonese."""
    return dialect.detector().with_evidence(specific_words(vocab_dir), weight)


VOCABULARY = CantoneseVocabularyData()

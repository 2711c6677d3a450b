"""A vocabulary mined from curated text without a dictionary: candidate words, how specific to the language each is
against written Chinese, and an entry per word (Jyutping, part of speech, written equivalents, example sentences).

    canto-nemo vocab corpus=DIR output=DIR

Mining (the standard new-word method for unsegmented Chinese): every run of 1 to `max_length` script characters is a
candidate; a candidate of two or more characters is a word when it holds together (pointwise mutual information of
its weakest split, `min_pmi`, in nats) and is free on both sides (left and right branching entropy of its
neighbouring characters, `min_entropy`, nats; a text boundary counts as a neighbour of its own each time). The
pack's segmenter is a second signal: on a sample of the documents (`segment_share`), the share of a candidate's
occurrences that the segmenter cuts as one word. Words are ranked by `score` = log(frequency) x min(entropy) x PMI x
(0.5 + segmented share), the share counted as one half where the sample never saw the word (and for single
characters, which rank with the median PMI of the longer candidates). pycantonese's segmenter
was trained on HKCanCor and on rime-cantonese's words (its train_segmenter.py): a vocabulary that must owe nothing to
rime-cantonese (the benchmark checks against it) is mined with segment_share=0.

Language-specificity: the log of the word's rate in the corpus over its rate in the pack's written-reference texts,
and again over its rate in the pack's reference word frequencies (jieba's dictionary for Cantonese), each as the
lower bound of an exact binomial interval (given the word's occurrences in both, the share in the corpus: Clopper and
Pearson); the score is the smaller of the two, so a word is specific only when it is over-represented against both,
and a rare word only as far as its counts can tell, including a word the references never write. The corpus side
counts the word's frequency times its dispersion (`dispersion`: the documents it occurs in over the documents it
would occur in if its occurrences fell at random), so a word repeated through a few articles on one topic counts as
less used. `cantonese_specific` marks a score of at least `min_specificity`, except what is `declined`: a phrase
around a word ("phrase": an entry of 3+ characters made of a vocabulary word of 2+ characters and a specific entry,
係日本, 位置喺, whose specificity is that entry's, `fragment_of`), a sequence the pack's segmenter cuts apart in most
of its occurrences in the sample ("segmenter": 出咗, 呢條; `segmenter_splits`, the exact upper bound of the share it
cuts as one word below one half), a name ("name": a proper noun by the pack's tagger, 旺角). The anchor, a raw
frequency ratio with add-one smoothing, is written too.

Scale: the corpus is read once into a spill file of code points under the output's staging folder; n-gram counts
are made chunk by chunk (`chunk_chars`) with NumPy and merged, then pruned to `min_count`; candidates' neighbour
counts, the sample's counts and the examples come from further passes over the spill. Memory grows with the
distinct n-grams of the corpus, time with its length; one line of progress per chunk.

Output (written under DIR/_work and moved into place at the end): `vocab.tsv`, `vocab.jsonl` (one entry per
line), `vocab.html` (a page to search and read), `vocab.json` (parameters and counts). `load_vocab(DIR)` reads the
entries back (the instruction generator's seeds), `vocab_words(DIR)` the words (the tokenizer's lexicon).

The language data comes from the pack: the module `vocab` beside the pack's class must define `VOCABULARY` (for
Cantonese, `canto_nemo.cantonese.vocab`), with `script_class`, `sentence_ends`, `fold`, `reference_texts`,
`reference_frequencies`, `segment` and `annotate`.
"""

from __future__ import annotations

import html
import importlib
import json
import math
import shutil
import time
from collections import Counter
from pathlib import Path

import numpy as np
import regex

from canto_nemo.common.outputs import prepare_output_dir
from canto_nemo.curator_stages.corpus import Skipped, documents, resolve_inputs

BITS = 16  # bits per character id in an n-gram key: up to 65,535 distinct script characters, four to a uint64
MAX_IDS = (1 << BITS) - 1
MAX_LENGTH = 64 // BITS
BOUND_LEVEL = 0.02275  # the one-sided tail of a normal beyond two standard deviations
FILES = ("vocab.tsv", "vocab.html", "vocab.json", "vocab.jsonl")  # moved into place in this order: the entries last
TSV_COLUMNS = (
    "rank",
    "word",
    "frequency",
    "score",
    "cantonese_specificity",
    "cantonese_specific",
    "declined",
    "fragment_of",
    "segmenter_splits",
    "jyutping",
    "pos",
    "written_equivalents",
    "pmi",
    "entropy",
    "segmented_share",
    "frequency_ratio",
    "dispersion",
    "examples",
)


def language_data(pack: str):
    """The pack's vocabulary data: `VOCABULARY` of the module `vocab` in the pack's package."""
    from canto_nemo.curator_stages.language_pack import get_pack

    pack_obj = get_pack(pack)
    package = type(pack_obj).__module__.rpartition(".")[0]
    try:
        return importlib.import_module(f"{package}.vocab").VOCABULARY
    except (ImportError, AttributeError) as err:
        raise ValueError(f"pack {pack!r} has no vocabulary data ({package}.vocab.VOCABULARY): {err}") from err


# ---------------------------------------------------------------------------------------------------- counting


class KeyCounts:
    """Counts of uint64 keys, added chunk by chunk and merged when the pending part outgrows the merged part (so the
    total work stays proportional to the keys added, up to a log factor)."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.uint64)
        self.counts = np.empty(0, dtype=np.int64)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._pending_size = 0

    def add(self, keys: np.ndarray) -> None:
        if len(keys) == 0:
            return
        unique, counts = np.unique(keys, return_counts=True)
        self._pending.append((unique, counts.astype(np.int64)))
        self._pending_size += len(unique)
        if self._pending_size > max(len(self.keys), 1 << 20):
            self.merge()

    def merge(self) -> KeyCounts:
        if self._pending:
            keys = np.concatenate([self.keys, *(k for k, _ in self._pending)])
            counts = np.concatenate([self.counts, *(c for _, c in self._pending)])
            order = np.argsort(keys, kind="stable")
            keys, counts = keys[order], counts[order]
            starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.empty(0, dtype=np.int64)
            self.keys, self.counts = keys[starts], np.add.reduceat(counts, starts) if len(keys) else counts
            self._pending, self._pending_size = [], 0
        return self

    def prune(self, min_count: int) -> None:
        self.merge()
        kept = self.counts >= min_count
        self.keys, self.counts = self.keys[kept], self.counts[kept]

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The count of each key (0 where absent)."""
        self.merge()
        if len(self.keys) == 0:
            return np.zeros(len(keys), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.counts[at], 0)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.counts.nbytes + sum(k.nbytes + c.nbytes for k, c in self._pending)


def ngram_keys(ids: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(key, valid) of the n-gram starting at each position: its character ids packed BITS to a character; valid
    where no id is 0 (0 is everything outside the script: punctuation, spaces, other scripts, document breaks)."""
    m = len(ids) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=bool)
    key = np.zeros(m, dtype=np.uint64)
    valid = np.ones(m, dtype=bool)
    for j in range(n):
        part = ids[j : j + m]
        key = (key << np.uint64(BITS)) | part.astype(np.uint64)
        valid &= part != 0
    return key, valid


class Spill:
    """The corpus as chunks of code points on disk (documents separated by 0), with each document's id and start."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.chunks: list[tuple[Path, list[str], np.ndarray]] = []

    def write(self, texts: list[str], ids: list[str]) -> np.ndarray:
        joined = "\x00".join(texts) + "\x00"
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        starts = np.r_[0, np.cumsum([len(t) + 1 for t in texts])[:-1]].astype(np.int64)
        path = self.folder / f"chunk_{len(self.chunks):05d}.npy"
        np.save(path, codes)
        self.chunks.append((path, list(ids), starts))
        return codes

    def __iter__(self):
        for path, ids, starts in self.chunks:
            yield np.load(path, mmap_mode="r"), ids, starts


def decode(codes: np.ndarray) -> str:
    return np.ascontiguousarray(codes, dtype=np.uint32).tobytes().decode("utf-32-le")


# ---------------------------------------------------------------------------------------------------- scores


def branching_entropy(
    candidate: np.ndarray, neighbour: np.ndarray, count: np.ndarray, n_candidates: int, totals: np.ndarray
) -> np.ndarray:
    """Entropy (nats) of each candidate's neighbours from (candidate, neighbour id, count) rows; neighbour 0, a
    boundary, counts as a distinct neighbour on every occurrence (a word that ends texts is free on that side)."""
    total = totals[candidate].astype(np.float64)
    p = count / total
    terms = np.where(neighbour != 0, -p * np.log(p), p * np.log(total))
    return np.bincount(candidate, weights=terms, minlength=n_candidates)


def rate_ratio_bound(y: np.ndarray, n_y: float, z: np.ndarray, n_z: float) -> np.ndarray:
    """The log of the lower bound (one-sided, BOUND_LEVEL) of a word's rate in y (of n_y) over its rate in z (of
    n_z): given its y + z occurrences in both, y is binomial with odds rate ratio x n_y / n_z, and the bound on those
    odds is exact (Clopper and Pearson 1934). Exact because the words that matter most are those the reference never
    writes (z = 0): there, the normal approximation of the log-odds with a small Dirichlet prior (Monroe et al.
    2008, used before) put the bound of a word far below that of one written three times."""
    from scipy.stats import beta

    y, z = y.astype(np.float64), z.astype(np.float64)
    # p and 1 - p each from their own tail: near 1, p's complement would lose its digits.
    p = beta.ppf(BOUND_LEVEL, y, z + 1)
    q = beta.isf(BOUND_LEVEL, z + 1, y)
    return np.log(p) - np.log(q) + math.log(n_z / n_y)


def expected_documents(rate: np.ndarray, lengths: np.ndarray, batch: int = 1024) -> np.ndarray:
    """How many documents (of the given lengths) a word of each rate would occur in if its occurrences fell at
    random (Poisson): the sum over documents of 1 - exp(-rate x length), over the distinct lengths."""
    distinct, how_many = np.unique(lengths, return_counts=True)
    out = np.empty(len(rate), dtype=np.float64)
    for first in range(0, len(rate), batch):
        part = rate[first : first + batch, None]
        out[first : first + batch] = (-np.expm1(-part * distinct[None, :])) @ how_many
    return np.maximum(out, 1e-12)


def splits_bound(joined: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The upper bound (one-sided, BOUND_LEVEL, exact: Clopper and Pearson) of the share of a candidate's `seen`
    occurrences in the segmenter's sample that the segmenter cuts as one word (`joined` of them). Below one half, the
    segmenter splits the candidate more often than not, beyond what a small sample could show by chance."""
    from scipy.stats import beta

    joined = np.minimum(joined, seen).astype(np.float64)
    seen = seen.astype(np.float64)
    with np.errstate(invalid="ignore"):
        upper = beta.ppf(1 - BOUND_LEVEL, joined + 1, seen - joined)
    return np.where(joined >= seen, 1.0, upper)


def substring_counts(words: list[str], texts: list[str], max_length: int) -> np.ndarray:
    """How often each word occurs in the texts (overlapping occurrences counted); words may repeat (two spellings
    folded to one), each gets the count."""
    distinct = sorted({w for w in words if len(w) <= max_length})
    index = {w: i for i, w in enumerate(distinct)}
    lengths = sorted({len(w) for w in distinct})
    counts = np.zeros(len(distinct) + 1, dtype=np.int64)  # the last one: words longer than max_length
    for text in texts:
        for n in lengths:
            for i in range(len(text) - n + 1):
                j = index.get(text[i : i + n])
                if j is not None:
                    counts[j] += 1
    return counts[[index.get(w, len(distinct)) for w in words]]


# ---------------------------------------------------------------------------------------------------- build


def build(
    corpus,
    output: str,
    *,
    pack: str = "cantonese",
    text_field: str = "text",
    max_words: int = 20000,
    max_length: int = 4,
    min_count: int = 5,
    min_pmi: float = 1.0,
    min_entropy: float = 1.0,
    segment_share: float = 0.2,
    min_specificity: float = 2.0,
    examples: int = 3,
    chunk_chars: int = 2_000_000,
    max_chars: int | None = None,
    overwrite: bool = False,
    progress=print,
) -> dict:
    """Mines a vocabulary from curated text into `output` (see the module docstring); returns its summary."""
    if not 1 <= max_length <= MAX_LENGTH:
        raise ValueError(f"max_length={max_length}: words of 1 to {MAX_LENGTH} characters can be mined")
    from canto_nemo.curator_stages.readers import partitions

    language = language_data(pack)
    partitions(resolve_inputs(corpus))  # a missing or empty input is named before the output folder is touched
    out = prepare_output_dir(output, overwrite)
    work = out / "_work"
    try:
        summary = _build(
            corpus,
            out,
            work,
            language,
            text_field=text_field,
            max_words=max_words,
            max_length=max_length,
            min_count=min_count,
            min_pmi=min_pmi,
            min_entropy=min_entropy,
            segment_share=segment_share,
            min_specificity=min_specificity,
            examples=examples,
            chunk_chars=chunk_chars,
            max_chars=max_chars,
            progress=progress,
        )
        for name in FILES:
            (work / name).replace(out / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return summary


def _read(
    corpus,
    spill: Spill,
    language,
    text_field: str,
    chunk_chars: int,
    max_chars: int | None,
    segment_share: float,
    max_length: int,
    progress,
) -> tuple[np.ndarray, Counter, set, dict]:
    """Reads the corpus into the spill; returns code point counts, the segmenter's word counts on the sample, the
    sampled document ids, and reading stats."""
    import xxhash

    skipped = Skipped()
    char_counts = np.zeros(0x110000, dtype=np.int64)
    segmented: Counter[str] = Counter()
    sampled: set[tuple[int, int]] = set()  # (chunk, document) of the sample
    script = regex.compile(rf"^[{language.script_class}]+$")
    texts: list[str] = []
    ids: list[str] = []
    stats = {"documents": 0, "characters": 0}
    size = 0
    start = time.perf_counter()

    def flush() -> None:
        nonlocal size
        if not texts:
            return
        chosen = [
            i for i, d in enumerate(ids) if xxhash.xxh64_intdigest(d.encode("utf-8")) % 10_000 < segment_share * 10_000
        ]
        for words in language.segment([texts[i] for i in chosen]):
            segmented.update(w for w in words if 2 <= len(w) <= max_length and script.match(w))
        sampled.update((len(spill.chunks), i) for i in chosen)
        codes = spill.write(texts, ids)
        char_counts[:] += np.bincount(codes, minlength=0x110000)
        texts.clear()
        ids.clear()
        size = 0
        rate = stats["characters"] / max(time.perf_counter() - start, 1e-9)
        progress(
            f"vocab: read {stats['documents']:,} documents, {stats['characters']:,} characters "
            f"({rate:,.0f} characters/s)"
        )

    for doc_id, text in documents(corpus, text_field, skipped):
        text = text.replace("\x00", " ")
        texts.append(text)
        ids.append(doc_id)
        size += len(text)
        stats["documents"] += 1
        stats["characters"] += len(text)
        if size >= chunk_chars:
            flush()
        if max_chars is not None and stats["characters"] >= max_chars:
            break
    flush()
    skipped.report("vocab")
    stats["skipped_records"] = skipped.count
    return char_counts, segmented, sampled, stats


def _build(
    corpus,
    out: Path,
    work: Path,
    language,
    *,
    text_field: str,
    max_words: int,
    max_length: int,
    min_count: int,
    min_pmi: float,
    min_entropy: float,
    segment_share: float,
    min_specificity: float,
    examples: int,
    chunk_chars: int,
    max_chars: int | None,
    progress,
) -> dict:
    began = time.perf_counter()
    steps: dict[
        str, float
    ] = {}  # seconds per step, for the summary returned (not in the files: same corpus, same files)

    def step(name: str) -> None:
        steps[name] = round(time.perf_counter() - began - sum(steps.values()), 2)

    spill = Spill(work / "spill")
    char_counts, segmented, sampled, stats = _read(
        corpus, spill, language, text_field, chunk_chars, max_chars, segment_share, max_length, progress
    )
    step("read_and_segment")
    if stats["documents"] == 0:
        raise ValueError(f"no documents in {corpus}: nothing to mine a vocabulary from")

    table, chars, in_script, total, script = _char_table(char_counts, language, corpus)
    counts, sample_counts, peak_table_bytes = _count(spill, table, sampled, max_length, min_count, progress)
    step("count")
    candidates = _cohesive(counts, total, max_length, min_pmi)
    rows, lengths = _free(spill, table, chars, candidates, sample_counts, min_entropy)
    rows = _rank(rows, segmented, max_words)
    progress(f"vocab: {len(rows):,} words ranked")
    step("cohesion_and_entropy")
    words = [r["word"] for r in rows]
    specific, n_reference, n_dictionary = _specificity(rows, language, script, total, lengths, max_length,
                                                       min_specificity, progress)
    step("specificity")

    # Pass 3: example sentences, from distinct documents where there are enough.
    found = _examples(rows, spill, table, language, examples)
    progress("vocab: example sentences found; annotating")
    step("examples")
    annotations = language.annotate(words, [[e["text"] for e in found[i]] for i in range(len(rows))])
    _mark(rows, annotations, specific)
    step("annotate")
    entries = _entries(rows, annotations, found)
    summary = {
        "corpus": [str(c) for c in ([corpus] if isinstance(corpus, str | Path) else corpus)],
        **stats,
        "script_characters": total,
        "distinct_characters": len(in_script),
        "entries": len(entries),
        "cantonese_specific": sum(e["cantonese_specific"] for e in entries),
        "segmenter_sample_documents": len(sampled),
        "peak_count_table_bytes": peak_table_bytes,
        "parameters": {
            "max_words": max_words,
            "max_length": max_length,
            "min_count": min_count,
            "min_pmi": min_pmi,
            "min_entropy": min_entropy,
            "segment_share": segment_share,
            "min_specificity": min_specificity,
            "examples": examples,
        },
        "reference": {"text_characters": n_reference, "dictionary_total": n_dictionary},
    }
    _write(work, entries, summary)  # without the time taken: the same corpus gives the same files
    step("write")
    summary["seconds"] = round(time.perf_counter() - began, 1)
    summary["seconds_by_step"] = steps
    progress(f"vocab: {len(entries):,} entries ({summary['cantonese_specific']:,} Cantonese-specific) -> {out}")
    return summary


def _char_table(char_counts: np.ndarray, language, corpus):
    """Character ids: the script's characters by frequency (1 = most frequent); everything else is 0, a break.
    Returns the code-point table, the characters by id, the script's code points, their total count and the
    script's regex."""
    present = np.flatnonzero(char_counts)
    script = regex.compile(rf"[{language.script_class}]")
    in_script = [c for c in present.tolist() if script.match(chr(c))]
    in_script.sort(key=lambda c: (-char_counts[c], c))
    table = np.zeros(0x110000, dtype=np.uint16)
    table[np.asarray(in_script[:MAX_IDS], dtype=np.int64)] = np.arange(1, min(len(in_script), MAX_IDS) + 1)
    chars = ["", *(chr(c) for c in in_script[:MAX_IDS])]
    total = int(char_counts[np.asarray(in_script, dtype=np.int64)].sum()) if in_script else 0
    if total == 0:
        raise ValueError(f"no {language.script_class} characters in {corpus}: nothing to mine a vocabulary from")

    return table, chars, in_script, total, script


def _count(spill: Spill, table: np.ndarray, sampled, max_length: int, min_count: int, progress):
    """Pass 1: n-gram counts over the whole corpus and over the segmenter's sample, pruned to min_count."""
    counts = {n: KeyCounts() for n in range(1, max_length + 1)}
    sample_counts = {n: KeyCounts() for n in range(2, max_length + 1)}
    peak_table_bytes = 0
    for k, (codes, _, starts) in enumerate(spill):
        ids = table[codes]
        doc_of = np.searchsorted(starts, np.arange(len(ids)), side="right") - 1
        in_sample = np.zeros(len(starts), dtype=bool)
        in_sample[[d for c, d in sampled if c == k]] = True
        for n, table_n in counts.items():
            key, valid = ngram_keys(ids, n)
            table_n.add(key[valid])
            if n >= 2:
                sample_counts[n].add(key[valid & in_sample[doc_of[: len(key)]]])
        peak_table_bytes = max(peak_table_bytes, sum(t.nbytes for t in counts.values()))
        progress(f"vocab: counted n-grams in chunk {k + 1}/{len(spill.chunks)}")
    for table_n in counts.values():
        table_n.prune(min_count)
    progress(f"vocab: {', '.join(f'{len(t.keys):,} {n}-grams' for n, t in counts.items())} seen {min_count}+ times")

    return counts, sample_counts, peak_table_bytes


def _cohesive(counts: dict, total: int, max_length: int, min_pmi: float) -> dict:
    """Cohesion: PMI of the weakest split, p(x) = count(x) / characters for every length; n -> (keys, counts, pmi)
    of the candidates that hold together (single characters all, with no PMI)."""
    candidates: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}  # n -> (keys, counts, pmi)
    for n in range(2, max_length + 1):
        keys, freq = counts[n].keys, counts[n].counts
        pmi = np.full(len(keys), np.inf)
        for split in range(1, n):
            left = counts[split].get(keys >> np.uint64(BITS * (n - split)))
            right = counts[n - split].get(keys & np.uint64((1 << (BITS * (n - split))) - 1))
            pmi = np.minimum(pmi, np.log(freq * total / np.maximum(left * right, 1)))
        kept = pmi >= min_pmi
        candidates[n] = (keys[kept], freq[kept], pmi[kept])
    singles = counts[1]
    candidates[1] = (singles.keys, singles.counts, np.full(len(singles.keys), np.nan))

    return candidates


def _free(spill: Spill, table: np.ndarray, chars: list[str], candidates: dict, sample_counts: dict,
          min_entropy: float) -> tuple[list[dict], np.ndarray]:
    """Pass 2: neighbours of the candidates -> left and right branching entropy, and the documents each occurs in;
    the candidates free on both sides as rows, and each document's script characters."""
    mask = (1 << BITS) - 1
    left_pairs = {n: KeyCounts() for n in candidates}
    right_pairs = {n: KeyCounts() for n in candidates}
    in_documents = {n: np.zeros(len(keys), dtype=np.int64) for n, (keys, _, _) in candidates.items()}
    lengths = []  # script characters of each document
    for codes, _, starts in spill:
        ids = table[codes]
        padded = np.r_[np.uint16(0), ids, np.uint16(0)]
        doc_of = np.searchsorted(starts, np.arange(len(ids)), side="right") - 1
        lengths.append(np.bincount(doc_of[ids != 0], minlength=len(starts)))
        for n, (keys, _, _) in candidates.items():
            key, valid = ngram_keys(ids, n)
            at = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
            hit = valid & (keys[at] == key) if len(keys) else np.zeros(len(key), dtype=bool)
            position = np.flatnonzero(hit)
            index = at[position].astype(np.uint64) << np.uint64(BITS)
            left_pairs[n].add(index | padded[position].astype(np.uint64))
            right_pairs[n].add(index | padded[position + n + 1].astype(np.uint64))
            pairs = np.unique(at[position].astype(np.int64) * len(starts) + doc_of[position])
            in_documents[n] += np.bincount(pairs // len(starts), minlength=len(keys))
    lengths = np.concatenate(lengths)
    rows = []
    for n, (keys, freq, pmi) in candidates.items():
        entropies = []
        for pairs in (left_pairs[n].merge(), right_pairs[n].merge()):
            index = (pairs.keys >> np.uint64(BITS)).astype(np.int64)
            neighbour = (pairs.keys & np.uint64(mask)).astype(np.int64)
            entropies.append(branching_entropy(index, neighbour, pairs.counts, len(keys), freq))
        entropy = np.minimum(*entropies)
        sample = sample_counts[n].get(keys) if n >= 2 else np.zeros(len(keys), dtype=np.int64)
        for i in np.flatnonzero(entropy >= min_entropy).tolist():
            key = int(keys[i])
            word = "".join(chars[(key >> (BITS * (n - 1 - j))) & mask] for j in range(n))
            rows.append(
                {
                    "word": word,
                    "frequency": int(freq[i]),
                    "pmi": None if n == 1 else float(pmi[i]),
                    "entropy": float(entropy[i]),
                    "key": key,
                    "length": n,
                    "sampled": int(sample[i]),
                    "documents": int(in_documents[n][i]),
                }
            )
    return rows, lengths


def _rank(rows: list[dict], segmented, max_words: int) -> list[dict]:
    """Scores the rows (see the module docstring), keeps the best max_words, marks what the segmenter cuts apart."""
    # A single character has no split to hold together and is one token for any segmenter: it ranks with the median
    # cohesion of the longer candidates and no evidence from the segmenter either way.
    cohesions = [r["pmi"] for r in rows if r["pmi"] is not None]
    typical = float(np.median(cohesions)) if cohesions else 1.0
    for row in rows:
        seen = row["sampled"]
        share = min(segmented[row["word"]] / seen, 1.0) if row["length"] >= 2 and seen else None
        row["segmented_share"] = share
        cohesion = max(typical if row["pmi"] is None else row["pmi"], 0.0)
        row["score"] = (
            math.log(row["frequency"]) * row["entropy"] * cohesion * (0.5 + (0.5 if share is None else share))
        )
    rows.sort(key=lambda r: (-r["score"], r["word"]))
    rows = rows[:max_words]
    # Never for a candidate the sample did not see (the bound is then 1), nor for a single character (never sampled).
    joined_bound = splits_bound(
        np.asarray([segmented[r["word"]] for r in rows]), np.asarray([r["sampled"] for r in rows])
    )
    for row, bound_r in zip(rows, joined_bound, strict=True):
        row["segmenter_splits"] = bool(bound_r < 0.5)
    return rows


def _specificity(rows: list[dict], language, script, total: int, lengths: np.ndarray, max_length: int,
                 min_specificity: float, progress) -> tuple[set, int, int]:
    """Specificity of each row against the written references and the reference dictionary, and the phrases around a
    word; returns the specific words and the two references' sizes."""
    # Specificity against the written references (folded to one spelling).
    words = [r["word"] for r in rows]
    folded = language.fold(words)
    reference = language.fold(language.reference_texts())
    n_reference = sum(len(script.findall(t)) for t in reference)  # script characters, as `total` counts them
    in_reference = substring_counts(folded, reference, max_length)
    frequencies = language.reference_frequencies()
    in_dictionary = np.asarray([frequencies.get(w, 0) for w in folded], dtype=np.int64)
    n_dictionary = sum(frequencies.values())
    # The corpus side counts a word's use, not its bursts: its frequency times its dispersion (the share of the
    # documents it would reach if its occurrences fell at random that it does reach), so a word repeated through a
    # few articles on one topic (舞蹈員, 受試者, 閏年) counts as less used than one spread over many documents.
    frequency = np.asarray([r["frequency"] for r in rows], dtype=np.float64)
    reached = np.asarray([r["documents"] for r in rows], dtype=np.float64)
    dispersion = np.minimum(reached / expected_documents(frequency / total, lengths), 1.0)
    y = frequency * dispersion
    # The lower bound of the rate ratio: how much more often the corpus uses the word, as far as its counts can
    # tell. A z-score would grow with frequency alone and rank 我 and 你 (more frequent in speech than in written
    # prose) above 嘅 and 咗.
    bound = np.minimum(
        rate_ratio_bound(y, total, in_reference, n_reference), rate_ratio_bound(y, total, in_dictionary, n_dictionary)
    )
    ratio = (frequency / total) / ((in_reference + 1) / n_reference + (in_dictionary + 1) / n_dictionary) * 2
    for r, b, ratio_w, ref, dic, spread in zip(
        rows, bound, ratio, in_reference, in_dictionary, dispersion, strict=True
    ):
        r["cantonese_specificity"] = round(float(b), 3)
        r["dispersion"] = round(float(spread), 3)
        r["frequency_ratio"] = round(float(ratio_w), 3)
        r["written_counts"] = {"reference_texts": int(ref), "reference_dictionary": int(dic)}
    # A word of the vocabulary (2+ characters: it passed cohesion and freedom; a single character is an entry by
    # construction and says nothing of being a word) with a specific entry glued on is a phrase around that word:
    # its specificity is the glued entry's (係日本, 位置喺, 佢哋嘅), which ranks on its own. Two-character words
    # are left alone: 但係, 同埋, 嘢食 have this shape too.
    specific = {r["word"] for r in rows if r["cantonese_specificity"] >= min_specificity}
    vocabulary = {r["word"] for r in rows}
    for r in rows:
        w = r["word"]
        glued = [
            (word, part)
            for k in range(1, len(w))
            for word, part in ((w[:k], w[k:]), (w[k:], w[:k]))
            if len(w) >= 3 and len(word) >= 2 and word in vocabulary and part in specific
        ]
        r["fragment_of"] = glued[0][1] if glued else None
    progress(
        f"vocab: specificity against {n_reference:,} characters of written Chinese and {len(frequencies):,} "
        "dictionary words"
    )

    return specific, n_reference, n_dictionary


def _mark(rows: list[dict], annotations: list[dict], specific: set) -> None:
    # Marked specific: a word of the language, not only a string the corpus uses more than written Chinese. Not a
    # phrase around a word (above), not a sequence the segmenter cuts apart in most of its occurrences (a verb and
    # its aspect marker, 出咗; a demonstrative and a classifier, 呢條: the word is the marker, which ranks on its
    # own), not a name (a proper noun by the tagger: 旺角, 沙田 are specific to Hong Kong, not to its language).
    for r, note in zip(rows, annotations, strict=True):
        if r["fragment_of"]:
            r["declined"] = "phrase"
        elif r["segmenter_splits"]:
            r["declined"] = "segmenter"
        elif note["pos"] == "PROPN":
            r["declined"] = "name"
        else:
            r["declined"] = None
        r["cantonese_specific"] = r["word"] in specific and r["declined"] is None


def _entries(rows: list[dict], annotations: list[dict], found: list[list[dict]]) -> list[dict]:
    entries = []
    for rank, (r, note) in enumerate(zip(rows, annotations, strict=True), 1):
        entries.append(
            {
                "rank": rank,
                "word": r["word"],
                "frequency": r["frequency"],
                "score": round(r["score"], 3),
                "cantonese_specificity": r["cantonese_specificity"],
                "cantonese_specific": r["cantonese_specific"],
                "declined": r["declined"],
                "fragment_of": r["fragment_of"],
                "segmenter_splits": r["segmenter_splits"],
                **note,
                "pmi": None if r["pmi"] is None else round(r["pmi"], 3),
                "entropy": round(r["entropy"], 3),
                "segmented_share": None if r["segmented_share"] is None else round(r["segmented_share"], 3),
                "frequency_ratio": r["frequency_ratio"],
                "dispersion": r["dispersion"],
                "documents": r["documents"],
                "written_counts": r["written_counts"],
                "examples": found[rank - 1],
            }
        )
    return entries


def _examples(rows: list[dict], spill: Spill, table: np.ndarray, language, per_word: int) -> list[list[dict]]:
    """Up to per_word example sentences for each row: {"id", "text"}, from distinct documents first."""
    ends = np.asarray([ord(c) for c in language.sentence_ends] + [0], dtype=np.uint32)
    wanted = 4 * per_word  # occurrences looked at per word, to find distinct documents and readable lengths
    seen = [[] for _ in rows]
    by_length: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for n in sorted({r["length"] for r in rows}):
        index = np.asarray([i for i, r in enumerate(rows) if r["length"] == n], dtype=np.int64)
        keys = np.asarray([rows[i]["key"] for i in index], dtype=np.uint64)
        order = np.argsort(keys)
        by_length[n] = (keys[order], index[order])
    need = np.full(len(rows), wanted, dtype=np.int64)
    for codes, ids, starts in spill:
        if not need.any():
            break
        char_ids = table[codes]
        boundaries = np.flatnonzero(np.isin(codes, ends))
        for n, (keys, index) in by_length.items():
            key, valid = ngram_keys(char_ids, n)
            at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            position = np.flatnonzero(valid & (keys[at] == key))
            row = index[at[position]]
            position, row = position[need[row] > 0], row[need[row] > 0]
            # A word's first occurrence in each document comes before its second in any: examples from many
            # documents, not all from the first long article.
            doc_of = np.searchsorted(starts, position, side="right")
            order = np.lexsort((position, doc_of, row))
            position, row, doc_of = position[order], row[order], doc_of[order]
            nth = _rank_in_runs(row * (len(starts) + 1) + doc_of)
            order = np.lexsort((position, nth, row))
            position, row = position[order], row[order]
            rank = _rank_in_runs(row)
            taken = rank < need[row]
            for p, i in zip(position[taken].tolist(), row[taken].tolist(), strict=True):
                b = np.searchsorted(boundaries, p)
                start = int(boundaries[b - 1]) + 1 if b else 0
                end = int(boundaries[b]) + 1 if b < len(boundaries) else len(codes)
                start, end = max(start, p - 60), min(end, p + n + 60)  # long sentences: a window around the word
                doc = int(np.searchsorted(starts, p, side="right") - 1)
                text = decode(codes[start:end]).replace("\x00", "").strip()
                seen[i].append({"id": ids[doc], "text": text})
            np.subtract.at(need, row[taken], 1)
    chosen = []
    for found in seen:
        readable = sorted(found, key=lambda e: not 6 <= len(e["text"]) <= 80)  # stable: corpus order otherwise
        picked, docs = [], set()
        for e in readable:
            if e["id"] not in docs and e["text"] not in {p["text"] for p in picked}:
                picked.append(e)
                docs.add(e["id"])
        for e in readable:  # too few documents: more sentences from the same ones
            if len(picked) < per_word and e["text"] not in {p["text"] for p in picked}:
                picked.append(e)
        chosen.append(picked[:per_word])
    return chosen


def _rank_in_runs(values: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal neighbouring values."""
    if len(values) == 0:
        return np.empty(0, dtype=np.int64)
    first = np.r_[0, np.flatnonzero(np.diff(values)) + 1]
    return np.arange(len(values)) - np.repeat(first, np.diff(np.r_[first, len(values)]))


# ---------------------------------------------------------------------------------------------------- output


def _write(work: Path, entries: list[dict], summary: dict) -> None:
    with (work / "vocab.jsonl").open("w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    with (work / "vocab.tsv").open("w", encoding="utf-8") as f:
        f.write("\t".join(TSV_COLUMNS) + "\n")
        for e in entries:
            cells = {
                **e,
                "written_equivalents": "|".join(e["written_equivalents"]),
                "examples": " || ".join(f"{x['id']}: {x['text']}" for x in e["examples"]),
            }
            f.write("\t".join(_cell(cells[c]) for c in TSV_COLUMNS) + "\n")
    (work / "vocab.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (work / "vocab.html").write_text(_page(entries, summary), encoding="utf-8")


def _cell(value) -> str:
    if value is None:
        return ""
    return str(value).replace("\t", " ").replace("\n", " ").replace("\r", " ")


PAGE = """<!doctype html>
<html lang="yue-Hant"><head><meta charset="utf-8"><title>Vocabulary</title>
<style>
body{font-family:system-ui,"Noto Sans CJK TC",sans-serif;margin:2em;max-width:70em}
input{font-size:1.2em;width:30em;padding:.3em}
.entry{border-bottom:1px solid #ddd;padding:.6em 0}
.word{font-size:1.5em;font-weight:bold}.jp{color:#555;margin-left:.6em}.pos{color:#080;margin-left:.6em}
.spec{color:#a00;margin-left:.6em}.meta{color:#777;font-size:.85em}.ex{margin:.2em 0 0 1em}.id{color:#999}
</style></head><body>
<h1>Vocabulary</h1>
<p>SUMMARY</p>
<p><input id="q" placeholder="search a word, its Jyutping or its written equivalent" autofocus>
<label><input type="checkbox" id="specific"> Cantonese-specific only</label> <span id="n"></span></p>
<div id="list"></div>
<script id="data" type="application/json">DATA</script>
<script>
const entries = JSON.parse(document.getElementById("data").textContent);
const list = document.getElementById("list"), q = document.getElementById("q");
const sp = document.getElementById("specific");
const DECLINED = {phrase: "a phrase around a word", segmenter: "the segmenter splits it", name: "a name"};
function el(tag, cls, text) {
  const e = document.createElement(tag); if (cls) e.className = cls; e.textContent = text; return e;
}
function show() {
  const query = q.value.trim().toLowerCase();
  const hits = entries.filter(e => (!sp.checked || e.cantonese_specific) && (!query || e.word.includes(query)
    || (e.jyutping || "").includes(query) || e.written_equivalents.some(w => w.includes(query))
    || e.examples.some(x => x.text.includes(query))));
  document.getElementById("n").textContent = hits.length + " of " + entries.length + " entries";
  list.replaceChildren(...hits.slice(0, 200).map(e => {
    const d = el("div", "entry", "");
    d.append(el("span", "word", e.word), el("span", "jp", e.jyutping || ""), el("span", "pos", e.pos || ""));
    if (e.cantonese_specific) d.append(el("span", "spec", "Cantonese-specific"));
    else if (e.declined) d.append(el("span", "meta", " never marked: " + DECLINED[e.declined]));
    if (e.written_equivalents.length) d.append(el("div", "", "written: " + e.written_equivalents.join(", ")));
    d.append(el("div", "meta", "#" + e.rank + ", frequency " + e.frequency + ", specificity "
      + e.cantonese_specificity));
    for (const x of e.examples) {
      const p = el("div", "ex", x.text + " "); p.append(el("span", "id", x.id)); d.append(p);
    }
    return d;
  }));
}
q.addEventListener("input", show); sp.addEventListener("change", show); show();
</script></body></html>
"""


def _page(entries: list[dict], summary: dict) -> str:
    data = json.dumps(
        [
            {
                k: e[k]
                for k in (
                    "rank",
                    "word",
                    "jyutping",
                    "pos",
                    "frequency",
                    "cantonese_specificity",
                    "cantonese_specific",
                    "declined",
                    "written_equivalents",
                    "examples",
                )
            }
            for e in entries
        ],
        ensure_ascii=False,
    )
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")  # cannot close the script
    text = (
        f"{summary['entries']:,} words mined from {summary['documents']:,} documents "
        f"({summary['characters']:,} characters); {summary['cantonese_specific']:,} Cantonese-specific."
    )
    return PAGE.replace("SUMMARY", html.escape(text)).replace("DATA", data)


# ---------------------------------------------------------------------------------------------------- reading back


def load_vocab(vocab_dir: str | Path) -> list[dict]:
    """The entries of a vocabulary folder, in rank order: word, frequency, score, cantonese_specificity,
    cantonese_specific, jyutping, pos, written_equivalents, examples [{"id", "text"}], ..."""
    path = Path(vocab_dir) / "vocab.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no vocabulary at {vocab_dir}: expected {path} (written by canto-nemo vocab)")
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def vocab_words(vocab_dir: str | Path, specific_only: bool = False) -> list[str]:
    """The words of a vocabulary folder in rank order (only the Cantonese-specific ones with specific_only)."""
    return [e["word"] for e in load_vocab(vocab_dir) if e["cantonese_specific"] or not specific_only]

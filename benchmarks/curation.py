"""Throughput (MB/s on one core) and what each stage keeps, on real Cantonese forum posts: our stages next to NeMo
Curator's stock UnicodeReformatter and heuristic filters, in the same run on the same text.

    .venv/bin/python benchmarks/curation.py [--repeat 4]

Stages are called directly (no Ray), one process, so the figures are per core. Modifiers are chained as in the
default pipeline (each sees the previous one's output); each filter scores the normalised and cleaned text.
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIHKG = REPO.parent / "shared" / "data" / "lihkg"


def load_posts(repeat: int) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    posts = []
    for name in ("test.tsv", "valid.tsv"):
        with (LIHKG / name).open(encoding="utf-8") as f:
            posts += [row["text_a"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return posts * repeat


def megabytes(texts: list[str]) -> float:
    return sum(len(t.encode("utf-8")) for t in texts) / 1e6


def time_modifier(modifier, texts: list[str]) -> tuple[list[str], float]:
    modifier.modify_document(texts[0])  # loads what it loads lazily (OpenCC, lexicon) outside the timing
    start = time.perf_counter()
    out = [modifier.modify_document(t) for t in texts]
    return out, time.perf_counter() - start


def time_filter(doc_filter, texts: list[str]) -> tuple[float | None, float, str]:
    """(share kept, seconds, note)."""
    try:
        doc_filter.score_document(texts[0])
        start = time.perf_counter()
        scores = [doc_filter.score_document(t) for t in texts]
        seconds = time.perf_counter() - start
    except Exception as err:  # a stock filter that crashes on this text is a finding, not a benchmark failure
        return None, 0.0, f"crashes: {type(err).__name__}"
    kept = sum(bool(doc_filter.keep_document(s)) for s in scores) / len(texts)
    return kept, seconds, ""


def time_dialect(texts: list[str]) -> tuple[float, float]:
    """(share kept, seconds) of the dialect step: the pack's detector, then the default policy."""
    from canto_nemo.cantonese import PACK
    from canto_nemo.curator_stages.dialect import DialectPolicy

    detector, policy = PACK.dialect_detector(), DialectPolicy(PACK.default_keep_labels, min_share=0.3)  # the default
    detector.detect_batch(texts[:1])
    start = time.perf_counter()
    results = detector.detect_batch(texts)
    kept = [policy.keep_document({"dialect_label": r.label, "dialect_score": r.score, "dialect_share": r.share})
            for r in results]
    return sum(kept) / len(texts), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=4, help="repeat the 2,000 posts this many times")
    args = parser.parse_args()

    from nemo_curator.stages.text.filters.heuristic.repetition.repetition import RepeatingTopNGramsFilter
    from nemo_curator.stages.text.filters.heuristic.string import (
        NonAlphaNumericFilter,
        PunctuationFilter,
        SymbolsToWordsFilter,
        WordCountFilter,
    )
    from nemo_curator.stages.text.modifiers.unicode.unicode_reformatter import UnicodeReformatter

    from canto_nemo.curator_stages import (
        CharLengthFilter,
        DictionaryAwareCleaner,
        Normalizer,
        PiiRedactor,
        RepeatedCharNGramFilter,
        RepeatedLinesFilter,
        ScriptRatioFilter,
        SymbolRatioFilter,
    )

    posts = load_posts(args.repeat)
    size = megabytes(posts)
    rows: list[tuple[str, str, float, float | None, str]] = []  # (side, stage, seconds, kept, note)

    texts, ours_total = posts, 0.0
    for name, modifier in [("Normalizer", Normalizer("cantonese")),
                           ("DictionaryAwareCleaner", DictionaryAwareCleaner("cantonese")),
                           ("PiiRedactor", PiiRedactor("cantonese"))]:
        texts, seconds = time_modifier(modifier, texts)
        ours_total += seconds
        rows.append(("ours", name, seconds, None, "modifier"))
    kept_all = [True] * len(texts)
    for name, doc_filter in [("CharLengthFilter", CharLengthFilter(5, 100_000)),
                             ("ScriptRatioFilter", ScriptRatioFilter("cantonese", 0.3)),
                             ("SymbolRatioFilter", SymbolRatioFilter(0.4)),
                             ("RepeatedLinesFilter", RepeatedLinesFilter(0.3)),
                             ("RepeatedCharNGramFilter", RepeatedCharNGramFilter(10, 0.6))]:
        kept, seconds, note = time_filter(doc_filter, texts)
        kept_all = [k and doc_filter.keep_document(doc_filter.score_document(t)) for k, t in zip(kept_all, texts,
                                                                                             strict=True)]
        ours_total += seconds
        rows.append(("ours", name, seconds, kept, note))
    ours_kept = sum(kept_all) / len(texts)
    dialect_kept, dialect_seconds = time_dialect(texts)
    rows.append(("ours", "DialectLabeler + DialectFilter (not in the target's sum)", dialect_seconds, dialect_kept,
                 ""))

    stock_total, stock_kept_all = 0.0, [True] * len(posts)
    stock_texts, seconds = time_modifier(UnicodeReformatter(), posts)
    stock_total += seconds
    rows.append(("stock", "UnicodeReformatter (ftfy)", seconds, None, "modifier"))
    for name, doc_filter in [("WordCountFilter(lang=zh)", WordCountFilter(lang="zh")),
                             ("RepeatingTopNGramsFilter(lang=zh)", RepeatingTopNGramsFilter(lang="zh")),
                             ("NonAlphaNumericFilter", NonAlphaNumericFilter()),
                             ("PunctuationFilter", PunctuationFilter()),
                             ("SymbolsToWordsFilter(lang=zh)", SymbolsToWordsFilter(lang="zh"))]:
        kept, seconds, note = time_filter(doc_filter, stock_texts)
        stock_total += seconds
        if kept is not None:
            stock_kept_all = [k and doc_filter.keep_document(doc_filter.score_document(t))
                              for k, t in zip(stock_kept_all, stock_texts, strict=True)]
        rows.append(("stock", name, seconds, kept, note))
    stock_kept = sum(stock_kept_all) / len(posts)

    print(f"LIHKG posts: {len(posts):,} documents, {size:.2f} MB (test+valid x{args.repeat}); "
          f"Python {platform.python_version()}, {platform.machine()}, one process")
    print()
    print("| side | stage | MB/s per core | kept | note |")
    print("|---|---|---:|---:|---|")
    for side, name, seconds, kept, note in rows:
        speed = f"{size / seconds:.2f}" if seconds else "-"
        print(f"| {side} | {name} | {speed} | {'' if kept is None else f'{kept:.1%}'} | {note} |")
    print(f"| **ours** | **normaliser + cleaner + PII + 5 quality filters** | **{size / ours_total:.2f}** | "
          f"**{ours_kept:.1%}** | target >= 2 MB/s |")
    print(f"| **stock** | **all stock stages together** | **{size / stock_total:.2f}** | **{stock_kept:.1%}** | "
          f"crashing filters left out |")
    print()
    print(f"speed ratio ours/stock: {stock_total / ours_total:.1f}x")


if __name__ == "__main__":
    main()

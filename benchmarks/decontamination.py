"""How long a shared run of characters must be to call a document contaminated, measured for Han text.

Evaluation sets: ../shared/data/ud_hk and ../shared/data/yue_benchmark, as the demo decontaminates against them.
- Contaminated by construction: pycantonese's CTCPC holds most of ud_hk's Cantonese sentences. Recall: of the CTCPC
  sentences that are (after folding) exactly a ud_hk sentence of six characters or more, the share flagged.
- Clean by construction: the dialect judge's training sentences (../shared/data/dialect_train, checked free of the
  evaluation sets by exact match), LIHKG posts and Cantonese Wikipedia articles. Flagged share: documents that would be
  dropped; a seeded sample of them is printed to read (an overlap there may be real: a benchmark question copied from
  the web).

    .venv/bin/python benchmarks/decontamination.py
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SETTINGS = [(8, 6), (10, 6), (13, 6), (16, 6), (20, 6)]


def clean_documents() -> dict[str, list[str]]:
    from canto_nemo.cantonese import train_dialect

    data = SHARED
    csv.field_size_limit(sys.maxsize)
    lihkg = []
    for name in ("test.tsv", "valid.tsv"):
        with (data / "lihkg" / name).open(encoding="utf-8") as f:
            lihkg += [row["text_a"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    wiki = []
    for path in sorted((data / "yue_wikipedia").glob("wiki_0*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            wiki += [json.loads(line)["text"] for line in f]
    training = [t for texts in train_dialect.cantonese_texts(data).values() for t in texts if len(t) >= 6]
    training += [t for texts in train_dialect.written_texts(data).values() for t in texts if len(t) >= 6]
    return {"dialect training sentences": training, "LIHKG posts": lihkg, "Cantonese Wikipedia (wiki_0*)": wiki}


def main() -> None:
    from canto_nemo.cantonese.corpora import iter_corpus
    from canto_nemo.curator_stages.decontaminate import EvalOverlapFilter
    from canto_nemo.curator_stages.minhash import MinHashConfig, normalise_for_shingles

    eval_sets = [str(SHARED / "ud_hk"), str(SHARED / "yue_benchmark")]
    ctcpc = [t for _, t in iter_corpus("pycantonese:ctcpc")]
    fold = MinHashConfig()
    ud = [line[9:].strip() for line in (SHARED / "ud_hk" / "yue_hk-ud-test.conllu").open(encoding="utf-8")
          if line.startswith("# text = ")]
    ud_set = {t for t in normalise_for_shingles(ud, fold, "cantonese") if len(t) >= 6}  # ground truth: exact
    contaminated = [t for t, n in zip(ctcpc, normalise_for_shingles(ctcpc, fold, "cantonese"), strict=True)
                    if n in ud_set]
    clean = clean_documents()
    print(f"CTCPC sentences that are a ud_hk sentence (6+ characters, folded): {len(contaminated):,} "
          f"(covering {len({n for n in normalise_for_shingles(contaminated, fold, 'cantonese')}):,} distinct ud_hk "
          f"sentences)")
    print(", ".join(f"{name}: {len(docs):,}" for name, docs in clean.items()))
    print()
    print("| n (characters) | whole short texts from | CTCPC contamination found | CTCPC flagged in all | "
          + " | ".join(f"{name} flagged" for name in clean) + " | seconds |")
    print("|---:|---:|---:|---:|" + "---:|" * len(clean) + "---:|")
    rng = random.Random(0)
    samples = {}
    for n, min_chars in SETTINGS:
        started = time.perf_counter()
        overlap = EvalOverlapFilter(eval_sets, "cantonese", ngram=n, min_chars=min_chars)
        found = sum(bool(overlap.score_document(t)) for t in contaminated) / len(contaminated)
        flagged_ctcpc = sum(bool(overlap.score_document(t)) for t in ctcpc) / len(ctcpc)
        shares = []
        for name, docs in clean.items():
            scores = [overlap.score_document(t) for t in docs]
            hits = [(t, s) for t, s in zip(docs, scores, strict=True) if s]
            shares.append(len(hits) / len(docs))
            samples[(n, min_chars, name)] = rng.sample(hits, min(5, len(hits)))
        print(f"| {n} | {min_chars} | {found:.1%} | {flagged_ctcpc:.1%} | "
              + " | ".join(f"{s:.3%}" for s in shares) + f" | {time.perf_counter() - started:.0f} |")
    print("\nFlagged clean documents, a seeded sample per setting (the match after the colon):")
    for (n, min_chars, name), hits in samples.items():
        for text, score in hits:
            print(f"- n={n}, short from {min_chars}, {name}: {score[:60]} | {text[:60]!r}")


if __name__ == "__main__":
    main()

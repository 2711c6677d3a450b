"""Counts of a finished run, from what it wrote: documents in, out and rejected per stage and reason.

Documents in come from the readers' own counts, not from the outputs, so `reconciled` really checks that
documents in = curated + rejected.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

LENGTH_BINS = [0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000, 10**9]
SCORE_BINS = [i / 10 for i in range(11)]
EXAMPLES_PER_REASON = 3


def jsonl_records(folder: Path) -> Iterator[dict]:
    for path in sorted(folder.glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def _curated_records(folder: Path) -> Iterator[dict]:
    yield from jsonl_records(folder)
    for path in sorted(folder.glob("*.parquet")):
        yield from pq.read_table(path).to_pylist()


def collect_stats(curated: str, rejects: str, stage_names: list[str], counts_path: str, elapsed_s: float) -> dict:
    """From the curated and rejects folders of a run (before they are committed into the output folder)."""
    documents_in = sum(json.loads(p.read_text())["records"] for p in Path(counts_path).glob("*.json"))

    rejected: dict[str, Counter] = defaultdict(Counter)
    examples: dict[tuple[str, str], list[dict]] = defaultdict(list)
    scores: list[float] = []
    for record in jsonl_records(Path(rejects)):
        stage, reason = record.get("stage", "?"), record.get("reason", "?")
        rejected[stage][reason] += 1
        if len(examples[stage, reason]) < EXAMPLES_PER_REASON:
            text = record.get("text") if isinstance(record.get("text"), str) else record.get("raw", "")
            examples[stage, reason].append({"id": record.get("id"), "detail": record.get("detail"),
                                            "text": (text or "")[:400]})
        if isinstance(record.get("dialect_score"), float | int):
            scores.append(record["dialect_score"])

    lengths: list[int] = []
    labels: Counter = Counter()
    documents_out = 0
    for record in _curated_records(Path(curated)):
        documents_out += 1
        lengths.append(len(record.get("text") or ""))
        if record.get("dialect_score") is not None:
            scores.append(record["dialect_score"])
            labels[record.get("dialect_label")] += 1

    stages, remaining = [], documents_in
    for name in stage_names + sorted(set(rejected) - set(stage_names)):
        dropped = sum(rejected[name].values())
        stages.append({"stage": name, "in": remaining, "rejected": dropped, "out": remaining - dropped,
                       "reasons": dict(rejected[name].most_common())})
        remaining -= dropped
    documents_rejected = sum(sum(c.values()) for c in rejected.values())
    return {
        "documents_in": documents_in,
        "documents_out": documents_out,
        "documents_rejected": documents_rejected,
        "reconciled": documents_in == documents_out + documents_rejected,
        "elapsed_s": round(elapsed_s, 1),
        "stages": stages,
        "curated_dialect_labels": dict(labels.most_common()),
        "distributions": {
            "curated_length_chars": _histogram(lengths, LENGTH_BINS),
            "dialect_score": _histogram(scores, SCORE_BINS),
        },
        "examples": [{"stage": s, "reason": r, "documents": docs} for (s, r), docs in examples.items()],
    }


def _histogram(values: list[float], bins: list[float]) -> dict:
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=bins)
    return {"bins": bins, "counts": counts.tolist()}

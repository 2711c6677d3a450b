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
    dialect = DialectTally()
    for record in jsonl_records(Path(rejects)):
        dialect.add(record, kept=False)
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
        dialect.add(record, kept=True)
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
        "dialect_labels": dialect.summary(),
        "distributions": {
            "curated_length_chars": _histogram(lengths, LENGTH_BINS),
            "dialect_score": _histogram(scores, SCORE_BINS),
        },
        "examples": [{"stage": s, "reason": r, "documents": docs} for (s, r), docs in examples.items()],
    }


class DialectTally:
    """Every document the dialect step labelled (kept, or rejected by it or a later stage): labels, their shares,
    how many of each were kept, and a few examples of each."""

    def __init__(self) -> None:
        self.labels: Counter = Counter()
        self.kept: Counter = Counter()
        self.examples: dict[str, list[dict]] = defaultdict(list)

    def add(self, record: dict, kept: bool) -> None:
        label = record.get("dialect_label")
        if not isinstance(label, str):
            return
        self.labels[label] += 1
        self.kept[label] += kept
        if len(self.examples[label]) < EXAMPLES_PER_REASON:
            self.examples[label].append({"id": record.get("id"), "score": record.get("dialect_score"),
                                         "kept": kept, "text": str(record.get("text") or "")[:300]})

    def summary(self) -> dict:
        total = sum(self.labels.values())
        return {label: {"documents": n, "share": round(n / total, 4), "kept": self.kept[label],
                        "examples": self.examples[label]} for label, n in self.labels.most_common()}


def _histogram(values: list[float], bins: list[float]) -> dict:
    counts, _ = np.histogram(np.asarray(values, dtype=float), bins=bins)
    return {"bins": bins, "counts": counts.tolist()}


def print_summary(stats: dict, output: str) -> None:
    """The run's funnel, one line per stage, and where its outputs are (what `canto-nemo curate` prints)."""
    print()
    print(f"{'stage':<18}{'in':>10}{'rejected':>10}{'out':>10}  reasons")
    for s in stats["stages"]:
        reasons = ", ".join(f"{k} {v}" for k, v in list(s["reasons"].items())[:4])
        print(f"{s['stage']:<18}{s['in']:>10,}{s['rejected']:>10,}{s['out']:>10,}  {reasons}")
    verdict = "reconciled" if stats["reconciled"] else "NOT RECONCILED: documents were lost"
    print(f"\ndocuments in {stats['documents_in']:,} = curated {stats['documents_out']:,} + rejected "
          f"{stats['documents_rejected']:,}: {verdict}  ({stats['elapsed_s']} s)")
    print(f"curated: {output}/curated/  rejects: {output}/rejects/  stats: {output}/stats.json  "
          f"report: {output}/report.html")

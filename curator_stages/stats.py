"""Counts of a finished run, from what it wrote: documents in, out and rejected per stage and reason.

Documents in come from the readers' own counts, not from the outputs, so `reconciled` really checks that
documents in = curated + rejected.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

LENGTH_BINS = [0, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 100000, 10**9]
SCORE_BINS = [i / 10 for i in range(11)]
EXAMPLES_PER_REASON = 3
JSON_BLOCK_BYTES = 8 << 20  # Arrow parses JSONL in blocks; a line longer than one is read the slow way


def jsonl_records(folder: Path) -> Iterator[dict]:
    for path in sorted(folder.glob("*.jsonl")):
        yield from _lines(path)


def _lines(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


class WrittenFile:
    """One curated or rejects file, read once: as an Arrow table (half the time of json.loads per line, which made the
    statistics and the card a serial few seconds at the end of every run, the curated side parsed three times), or line
    by line where Arrow cannot type it as JSON does (a field whose type changes between lines, a line longer than a
    block, strings Arrow would read as dates: an id "2020-01-01" must stay a string)."""

    def __init__(self, path: Path, text_field: str) -> None:
        self.text_field = text_field
        self.records: list[dict] | None = None
        self.table = None
        if path.suffix == ".parquet":
            self.table = pq.read_table(path)
        else:
            try:
                self.table = pj.read_json(path, read_options=pj.ReadOptions(block_size=JSON_BLOCK_BYTES))
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                pass
            if self.table is None or any(re.search(r"timestamp|date|time", str(f.type)) for f in self.table.schema):
                self.table, self.records = None, list(_lines(path))
        self.rows = len(self.records) if self.table is None else self.table.num_rows

    def column(self, name: str) -> list:
        if self.table is None:
            return [r.get(name) for r in self.records]
        return self.table.column(name).to_pylist() if name in self.table.column_names else [None] * self.rows

    def value(self, name: str, row: int):
        if self.table is None:
            return self.records[row].get(name)
        return self.table.column(name)[row].as_py() if name in self.table.column_names else None

    def text_lengths(self) -> list[int]:
        """Characters of each row's text (0 where it has none)."""
        column = self.table.column(self.text_field) if self.table is not None and self.text_field in \
            self.table.column_names else None
        if column is not None and pa.types.is_string(column.type):
            return pc.fill_null(pc.utf8_length(column), 0).to_pylist()
        return [len(t) if isinstance(t, str) else 0 for t in self.column(self.text_field)]

    def schema(self) -> pa.Schema:
        if self.table is not None:
            return self.table.schema
        fields = []
        for name in dict.fromkeys(k for r in self.records for k in r):
            try:
                kind = pa.array([r.get(name) for r in self.records]).type
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                kind = pa.string()  # values of several types: `datasets` reads such a column declared string as JSON
            fields.append(pa.field(name, kind))
        return pa.schema(fields)


def written_files(folder: Path, text_field: str = "text") -> Iterator[WrittenFile]:
    """The folder's JSONL files, then its Parquet files, each in name order (empty ones left out)."""
    for pattern in ("*.jsonl", "*.parquet"):
        for path in sorted(folder.glob(pattern)):
            if path.stat().st_size:
                yield WrittenFile(path, text_field)


def collect_stats(curated: str, rejects: str, stage_names: list[str], counts_path: str, elapsed_s: float,
                  text_field: str = "text") -> dict:
    """From the curated and rejects folders of a run (before they are committed into the output folder). Each file is
    read once; what the dataset card needs of the curated files (per source counts, columns) is counted here too."""
    documents_in = sum(json.loads(p.read_text())["records"] for p in Path(counts_path).glob("*.json"))

    rejected: dict[str, Counter] = defaultdict(Counter)
    examples: dict[tuple[str, str], list[dict]] = defaultdict(list)
    scores: list[float] = []
    dialect = DialectTally()
    for file in written_files(Path(rejects), text_field):
        dialect.add(file, kept=False)
        for row, (stage, reason, score) in enumerate(zip(file.column("stage"), file.column("reason"),
                                                         file.column("dialect_score"), strict=True)):
            stage, reason = stage or "?", reason or "?"
            rejected[stage][reason] += 1
            if len(examples[stage, reason]) < EXAMPLES_PER_REASON:
                text = file.value(text_field, row)
                text = text if isinstance(text, str) else file.value("raw", row)
                examples[stage, reason].append({"id": file.value("id", row), "detail": file.value("detail", row),
                                                "text": (text or "")[:400]})
            if isinstance(score, float | int):
                scores.append(score)

    lengths: list[int] = []
    labels: Counter = Counter()
    sources: dict[str, dict] = {}
    schemas = []
    documents_out = 0
    for file in written_files(Path(curated), text_field):
        dialect.add(file, kept=True)
        documents_out += file.rows
        file_lengths = file.text_lengths()
        lengths += file_lengths
        schemas.append(file.schema())
        for source, n, score, label in zip(file.column("source"), file_lengths, file.column("dialect_score"),
                                           file.column("dialect_label"), strict=True):
            if score is not None:
                scores.append(score)
                labels[label] += 1
            counts = sources.setdefault(source or "?", {"documents": 0, "characters": 0, "dialect_labels": Counter()})
            counts["documents"] += 1
            counts["characters"] += n
            if label is not None:
                counts["dialect_labels"][label] += 1

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
        "curated_sources": {source: {**c, "dialect_labels": dict(c["dialect_labels"].most_common())}
                            for source, c in sources.items()},
        "curated_features": curated_features(schemas),
    }


def curated_features(schemas: list[pa.Schema]) -> list[dict]:
    """Every column of every curated file, as a dataset card's `dataset_info.features` declares them: inputs with
    different fields give files with different columns, and `datasets` adds a file's missing columns (as nulls) only
    when the card declares them."""
    if not schemas:
        return []
    import datasets

    # Field by field: a field of different types in different files (an int here, a string there) is declared a
    # string, and the others keep their types.
    types: dict[str, list[pa.Schema]] = {}
    for field in (f for schema in schemas for f in schema):
        types.setdefault(field.name, []).append(pa.schema([field]))
    fields = []
    for name, each in types.items():
        try:
            fields.append(pa.unify_schemas(each, promote_options="permissive").field(name))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            fields.append(pa.field(name, pa.string()))
    schema = pa.schema(fields)
    return datasets.Features.from_arrow_schema(schema)._to_yaml_list()


class DialectTally:
    """Every document the dialect step labelled (kept, or rejected by it or a later stage): labels, their shares,
    how many of each were kept, and a few examples of each."""

    def __init__(self) -> None:
        self.labels: Counter = Counter()
        self.kept: Counter = Counter()
        self.examples: dict[str, list[dict]] = defaultdict(list)

    def add(self, file: WrittenFile, kept: bool) -> None:
        for row, label in enumerate(file.column("dialect_label")):
            if not isinstance(label, str):
                continue
            self.labels[label] += 1
            self.kept[label] += kept
            if len(self.examples[label]) < EXAMPLES_PER_REASON:
                self.examples[label].append({"id": file.value("id", row), "score": file.value("dialect_score", row),
                                             "kept": kept, "text": str(file.value(file.text_field, row) or "")[:300]})

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

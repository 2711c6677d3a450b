"""Readers: JSONL, Parquet, TSV, CoNLL-U, plain text and the packaged corpora of the registered language packs
(`SCHEME:NAME`, e.g. pycantonese:hkcancor), into Curator DocumentBatches.

Every document gets a stable id, "<source>:<line>" (the path relative to the input it came from, and its 1-based line,
or row for Parquet), and keeps its source. A record that cannot be read (invalid UTF-8, bad JSON, no text field, a
text that is not a string, empty or holding NUL bytes) is not a crash and not a silent drop: it is written to the
rejects with stage "read", a reason and a detail naming the file and line. Each reader task also records how many
records it saw, so the workflow can prove that nothing was lost.

Stage 1, `InputPartitioner`: the input paths -> one FileGroupTask per file (or per byte range of a large
line-oriented file). Stage 2, `RecordReader`: a FileGroupTask -> DocumentBatches of at most `batch_size` documents.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pandas as pd
from nemo_curator.stages.base import ProcessingStage
from nemo_curator.tasks import DocumentBatch, EmptyTask, FileGroupTask

from canto_nemo.curator_stages.language_pack import corpus_reader
from canto_nemo.curator_stages.rejects import open_in_folder, write_rejects

LINE_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".txt": "txt", ".tsv": "tsv"}
FORMATS = {**LINE_FORMATS, ".conllu": "conllu", ".parquet": "parquet"}
SPLITTABLE = {"jsonl", "txt"}
DOCUMENT_COLUMNS = ("id", "text", "source", "line", "meta")


def file_format(path: str) -> str | None:
    name = path[:-3] if path.endswith(".gz") else path
    return FORMATS.get(Path(name).suffix.lower())


def expand_inputs(inputs: list[str]) -> list[tuple[str, str]]:
    """(path, source name) for every readable file under the inputs; raises at once for a missing input."""
    found: list[tuple[str, str]] = []
    for entry in inputs:
        if corpus_reader(entry) is not None:  # a pack's packaged corpus, e.g. pycantonese:hkcancor
            found.append((entry, entry))
            continue
        path = Path(entry)
        if not path.exists():
            msg = f"input path does not exist: {entry}"
            raise FileNotFoundError(msg)
        if path.is_file():
            if file_format(str(path)) is None:
                msg = f"unsupported input file {entry}: expected one of {sorted(FORMATS)} (optionally .gz)"
                raise ValueError(msg)
            found.append((str(path), path.name))
            continue
        files = sorted(p for p in path.rglob("*") if p.is_file() and file_format(str(p)))
        if not files:
            msg = f"no readable files ({', '.join(sorted(FORMATS))}) under {entry}"
            raise FileNotFoundError(msg)
        found += [(str(p), str(Path(path.name) / p.relative_to(path))) for p in files]
    return found


def partitions(inputs: list[str], split_bytes: int | None = None) -> list[tuple[str, dict]]:
    """(path, reader config) for every file under the inputs, or every ~split_bytes range of a large uncompressed
    JSONL/text file, in a stable order; `read_partition` reads one."""
    parts = []
    for path, source in expand_inputs(list(inputs)):
        fmt = "corpus" if path == source and corpus_reader(path) is not None else file_format(path)
        splittable = split_bytes and fmt in SPLITTABLE and not path.endswith(".gz")
        for start, end, first_line in _byte_ranges(path, split_bytes) if splittable else [(0, -1, 1)]:
            config = {"format": fmt, "source": source, "start": start, "end": end, "first_line": first_line}
            parts.append((path, config))
    return parts


def read_partition(path: str, config: dict, text_field: str = "text") -> Iterator[dict]:
    """The records of one partition, outside Ray: documents and `read` rejects (those carry a `reason` and a
    `detail` naming the file and line)."""
    yield from _records(path, config, text_field)


def _byte_ranges(path: str, split_bytes: int) -> list[tuple[int, int, int]]:
    """(start, end, first line number) of newline-aligned ranges of about split_bytes each."""
    size = os.path.getsize(path)
    if size <= split_bytes:
        return [(0, size, 1)]
    ranges, start, line = [], 0, 1
    with open(path, "rb") as f:
        while start < size:
            f.seek(min(start + split_bytes, size))
            f.readline()
            end = min(f.tell(), size)
            f.seek(start)
            lines = f.read(end - start).count(b"\n")
            ranges.append((start, end, line))
            start, line = end, line + lines
    return ranges


@dataclass
class InputPartitioner(ProcessingStage[EmptyTask, FileGroupTask]):
    """One task per input file, or per ~split_bytes range of a large uncompressed JSONL/text file."""

    paths: list[str]
    split_bytes: int = 256 * 1024 * 1024
    name: str = "input_partitioner"

    def inputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def num_workers(self) -> int | None:
        return 1

    def process(self, _: EmptyTask) -> list[FileGroupTask]:
        return [
            FileGroupTask(dataset_name="curate", data=[path], reader_config=config,
                          _metadata={"source_files": [f"{path}@{config['start']}"]})
            for path, config in partitions(list(self.paths), self.split_bytes)
        ]


@dataclass
class RecordReader(ProcessingStage[FileGroupTask, DocumentBatch]):
    """Reads one FileGroupTask into DocumentBatches with columns id, text, source, line, meta.

    text_field: the field holding the text in JSONL/Parquet records and the column name in TSV files (for TSV,
        "text_a" is also accepted, as in the LIHKG data). Other fields are kept in `meta`, as a JSON string.
    rejects_path: where unreadable records go. counts_path: where per-task record counts go.
    """

    text_field: str = "text"
    batch_size: int = 5000
    rejects_path: str | None = None
    counts_path: str | None = None
    name: str = "read"

    def inputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(DOCUMENT_COLUMNS)

    def process(self, task: FileGroupTask) -> list[DocumentBatch]:
        config = task.reader_config
        path = task.data[0]
        good: list[dict] = []
        bad: list[dict] = []
        for record in _records(path, config, self.text_field):
            (bad if "reason" in record else good).append(record)
        if self.rejects_path is not None:
            write_rejects(self.rejects_path, self.name, task.task_id, pd.DataFrame(bad))
        if self.counts_path is not None:
            _write_count(self.counts_path, task.task_id, config["source"], len(good) + len(bad), len(bad))
        batches = [good[i : i + self.batch_size] for i in range(0, len(good), self.batch_size)] or [[]]
        return [
            DocumentBatch(
                dataset_name=task.dataset_name,
                data=pd.DataFrame(rows, columns=list(DOCUMENT_COLUMNS)),
                _metadata={**task._metadata, "source_files": [*task._metadata.get("source_files", []), str(i)]},
            )
            for i, rows in enumerate(batches)
        ]


def _write_count(counts_path: str, task_id: str, source: str, records: int, rejected: int) -> None:
    with open_in_folder(counts_path, f"{task_id}.json") as f:
        json.dump({"source": source, "records": records, "rejected": rejected}, f)


def _document(source: str, line: int, text: object, meta: dict | None = None) -> dict:
    """A good record, or a rejected one when its text is unusable."""
    # Other fields travel as one JSON string: records of one batch may disagree on their types.
    meta_json = json.dumps(meta, ensure_ascii=False, default=str) if meta else None
    record = {"id": f"{source}:{line}", "text": text, "source": source, "line": line, "meta": meta_json}
    where = f"{source} line {line}"
    if text is None:
        return _rejected(source, line, "missing_text", f"{where}: no text field",
                         raw=json.dumps(meta, ensure_ascii=False))
    if not isinstance(text, str):
        return _rejected(source, line, "non_string_text", f"{where}: text is a {type(text).__name__}, not a string",
                         raw=json.dumps(text, ensure_ascii=False, default=str))
    if "\x00" in text:
        return _rejected(source, line, "nul_bytes", f"{where}: text holds NUL bytes (binary data?)",
                         raw=text.replace("\x00", "\\x00"))
    if not text.strip():
        return _rejected(source, line, "empty_text", f"{where}: text is empty or whitespace only", raw=text)
    return record


def _rejected(source: str, line: int, reason: str, detail: str, raw: str) -> dict:
    return {"id": f"{source}:{line}", "stage": "read", "reason": reason, "detail": detail,
            "source": source, "line": line, "raw": raw}


def _raw_lines(path: str, start: int, end: int) -> Iterator[bytes]:
    if path.endswith(".gz"):
        with gzip.open(path, "rb") as f:
            yield from f
        return
    with fsspec.open(path, "rb") as f:
        f.seek(start)
        remaining = end - start if end >= 0 else None
        for raw in f:
            if remaining is not None:
                if remaining <= 0:
                    break
                remaining -= len(raw)
            yield raw


def _records(path: str, config: dict, text_field: str) -> Iterator[dict]:
    fmt, source = config["format"], config["source"]
    if fmt == "corpus":
        for n, (local_id, text) in enumerate(corpus_reader(path)(), start=1):
            yield {**_document(source, n, text), "id": f"{source}:{local_id}"}
        return
    if fmt == "parquet":
        yield from _parquet_records(path, source, text_field)
        return
    if fmt == "conllu":
        yield from _conllu_records(path, source)
        return
    header: list[str] | None = None
    for n, raw in enumerate(_raw_lines(path, config["start"], config["end"]), start=config["first_line"]):
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as err:
            yield _rejected(source, n, "invalid_utf8", f"{source} line {n}: invalid UTF-8 at byte {err.start}",
                            raw=raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n"))
            continue
        if fmt == "txt":
            if line.strip():
                yield _document(source, n, line)
            continue
        if fmt == "tsv":
            if header is None:
                header = line.split("\t")
                continue
            yield _tsv_record(source, n, header, line, text_field)
            continue
        if not line.strip():
            continue  # blank lines between JSONL records are not records
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            yield _rejected(source, n, "invalid_json", f"{source} line {n}: {err.msg} at column {err.colno}", raw=line)
            continue
        if not isinstance(obj, dict):
            yield _rejected(source, n, "invalid_json", f"{source} line {n}: a JSON {type(obj).__name__}, not an object",
                            raw=line)
            continue
        text = obj.pop(text_field, None)
        yield _document(source, n, text, obj)


def _tsv_record(source: str, n: int, header: list[str], line: str, text_field: str) -> dict:
    column = text_field if text_field in header else "text_a" if "text_a" in header else None
    fields = line.split("\t")
    if column is None:
        return _rejected(source, n, "missing_text", f"{source} line {n}: no column {text_field!r} in the header",
                         raw=line)
    index = header.index(column)
    if len(fields) <= index:
        return _rejected(source, n, "missing_text", f"{source} line {n}: {len(fields)} fields, text is field "
                         f"{index + 1}", raw=line)
    meta = {k: v for k, v in zip(header, fields, strict=False) if k != column}
    return _document(source, n, fields[index], meta)


def _parquet_records(path: str, source: str, text_field: str) -> Iterator[dict]:
    with fsspec.open(path, "rb") as f:
        df = pd.read_parquet(io.BytesIO(f.read()))
    for n, row in enumerate(df.to_dict("records"), start=1):
        text = row.pop(text_field, None)
        yield _document(source, n, text, row)


def _conllu_records(path: str, source: str) -> Iterator[dict]:
    """One document per sentence, from its `# text = ` line; the sentence id goes into meta."""
    sent_id = None
    with fsspec.open(path, "r", encoding="utf-8", errors="strict") as f:
        for n, line in enumerate(f, start=1):
            if line.startswith("# sent_id = "):
                sent_id = line.split("=", 1)[1].strip()
            elif line.startswith("# text = "):
                yield _document(source, n, line.split("=", 1)[1].strip(), {"sent_id": sent_id})

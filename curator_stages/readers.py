"""Readers: JSONL, Parquet, TSV, CoNLL-U, plain text and the packaged corpora of the registered language packs
(`SCHEME:NAME`, e.g. pycantonese:hkcancor), into Curator DocumentBatches.

A user's records round-trip: every field of a record becomes a column under its own name (the text in `text_field`,
the id in `id_field`); only where a record has no id does the reader make one, "<source>:<line>" (the path relative
to the input it came from, and its 1-based line, or row for Parquet). Two columns say where a document came from,
`source` and `line`, unless the record has fields of those names. Internal columns start with "_" (`KEY`, a unique
"<source>:<line>" for the dedup steps) and are dropped before anything is written for the user.

A `.json` file is JSON Lines (one record a line, as `datasets` writes it) unless its first character is `[`: then it
is one JSON array of records (as many datasets ship it, and as `pandas.read_json` and `datasets` read it), each
record with its 0-based index in the array as its `line` ("<source>:<index>" where it has no id). A `.json` file
that is one JSON object over several lines (records under a key, SQuAD-style) is one reject naming its keys.

Nothing unreadable stops a run or disappears: a line that is not valid in the file's encoding, bad or too deeply
nested JSON, a record without a string text, empty text, NUL bytes, a compressed file that ends early, a file that
cannot be parsed at all: each is a reject of stage "read" with a reason and a detail naming the file and line (or
byte offset), holding the raw line whole and, where it parsed, the record's fields. Records before a corruption are
kept. Each reader task records how many records it saw, so the workflow can prove that nothing was lost.

Stage 1, `InputPartitioner`: the input paths -> one PartitionTask (a FileGroupTask) per file (or per byte range of a
large line-oriented file, or per record range of a packaged corpus). Stage 2, `RecordReader`: a FileGroupTask ->
DocumentBatches of at most `records_per_batch` documents.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pandas as pd
import pyarrow as pa
from nemo_curator.stages.base import ProcessingStage
from nemo_curator.tasks import DocumentBatch, EmptyTask, FileGroupTask
from nemo_curator.utils.hash_utils import get_deterministic_hash

from canto_nemo.curator_stages.columns import KEY
from canto_nemo.curator_stages.language_pack import corpus_reader
from canto_nemo.curator_stages.rejects import open_in_folder, write_rejects

LINE_FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".txt": "txt", ".tsv": "tsv"}
FORMATS = {**LINE_FORMATS, ".conllu": "conllu", ".parquet": "parquet"}
SPLITTABLE = {"jsonl", "txt"}
# The smallest range a file is cut into to give every CPU work: about 0.1 s of curation here, as long as Ray Data
# leaves a worker idle between two tasks.
MIN_SPLIT_BYTES = 256 * 1024
CORPUS_RECORDS = 20_000  # records per partition of a packaged corpus
# Encodings worth suggesting for Chinese text that is not UTF-8, most specific first (GB18030 decodes almost anything).
LIKELY_ENCODINGS = ("big5hkscs", "gb18030")


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


def json_shape(path: str) -> str:
    """How a `.json` file holds its records: "json_array" (it starts with `[`), "json_document" (one JSON value over
    several lines: its first line alone does not parse), else "jsonl". Only the start of the file is read."""
    try:
        with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
            first = f.readline().removeprefix(b"\xef\xbb\xbf")
    except (OSError, EOFError, zlib.error):
        return "jsonl"  # the line reader reports what is wrong with the file, where it is
    head = first.lstrip()
    if head.startswith(b"["):
        return "json_array"
    if head.startswith(b"{"):
        try:
            json.loads(first)
        except (ValueError, RecursionError):
            return "json_document"
    return "jsonl"


def partitions(inputs: list[str], split_bytes: int | None = None) -> list[tuple[str, dict]]:
    """(path, reader config) for every file under the inputs, or every ~split_bytes range of a large uncompressed
    JSONL/text file, in a stable order; `read_partition` reads one."""
    parts = []
    for path, source in expand_inputs(list(inputs)):
        fmt = "corpus" if path == source and corpus_reader(path) is not None else file_format(path)
        if fmt == "jsonl" and Path(path.removesuffix(".gz")).suffix.lower() == ".json":
            fmt = json_shape(path)
        splittable = split_bytes and fmt in SPLITTABLE and not path.endswith(".gz")
        if fmt == "corpus":
            ranges = _record_ranges(sum(1 for _ in corpus_reader(path)()))
        else:
            ranges = _byte_ranges(path, split_bytes) if splittable else [(0, -1, 1)]
        for start, end, first_line in ranges:
            config = {"format": fmt, "source": source, "start": start, "end": end, "first_line": first_line}
            parts.append((path, config))
    return parts


def read_partition(path: str, config: dict, text_field: str = "text", id_field: str = "id",
                   encoding: str = "utf-8") -> Iterator[dict]:
    """The records of one partition, outside Ray: documents and `read` rejects (those carry a `reason` and a
    `detail` naming the file and line)."""
    yield from Records(text_field, id_field, encoding).read(path, config)


def _record_ranges(records: int) -> list[tuple[int, int, int]]:
    """(first record, end, first record's number) of every CORPUS_RECORDS records of a packaged corpus: the reader
    runs in one task with the stages after it, so a corpus read whole would be curated on one core."""
    return [(start, min(start + CORPUS_RECORDS, records), start + 1)
            for start in range(0, records, CORPUS_RECORDS)] or [(0, -1, 1)]


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
class PartitionTask(FileGroupTask):
    """Partitions of the inputs read in one task: `data` holds their paths and `reader_config["parts"]` their reader
    configs, in the same order (a file, or a range of one: `start`). Small files share a task (`InputPartitioner`'s
    `group_bytes`); each part is still read, counted and batched on its own.

    NeMo Curator names a source stage's tasks by their content, which for a FileGroupTask is its file paths, so every
    range of one file got the same task id; the read counts and rejects files named by it then overwrote each other
    (a CTCPC of four ranges was counted as one: the run did not reconcile). The ranges' starts are part of this id.
    """

    def get_deterministic_id(self) -> str:
        starts = [str(config.get("start", 0)) for config in self.reader_config["parts"]]
        return get_deterministic_hash([*sorted(self.data), *starts])


class FileSource(ProcessingStage[EmptyTask, FileGroupTask]):
    """A source stage that turns a list of files into FileGroupTasks: it reads no columns, writes none, and runs once
    (one worker), on the paths it was given."""

    def inputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def num_workers(self) -> int | None:
        return 1


@dataclass
class InputPartitioner(FileSource):
    """One task per input file, or per ~split_bytes range of a large uncompressed JSONL/text file; consecutive files
    smaller than `group_bytes` (on disk) share a task. A corpus of fewer parts than the cluster has CPUs has its
    uncompressed JSONL/text files cut finer, into about one range per CPU (none under MIN_SPLIT_BYTES).

    group_bytes: -1 (the default) sizes the groups to the cluster: about eight tasks per CPU, none over split_bytes.
    Ray Data leaves a worker idle about 0.2 s between tasks here, so 70 Wikipedia files of 1 MB took 26 s in pass 1
    as 70 tasks and 20 s as ten. 0: one task per file.
    """

    paths: list[str]
    split_bytes: int = 32 * 1024 * 1024
    group_bytes: int = -1
    name: str = "input_partitioner"

    def process(self, _: EmptyTask) -> list[FileGroupTask]:
        parts = partitions(list(self.paths), self.split_bytes)
        cpus = _cluster_cpus()
        if self.split_bytes and len(parts) < cpus:
            # A corpus of fewer parts than CPUs (one file of a few MB) ran on one CPU while the others waited.
            total = sum(_partition_bytes(path, config) for path, config in parts)
            finer = max(MIN_SPLIT_BYTES, -(-total // cpus))
            if finer < self.split_bytes:
                parts = partitions(list(self.paths), finer)
        return [
            PartitionTask(dataset_name="curate", data=[path for path, _ in group],
                          reader_config={"parts": [config for _, config in group]},
                          _metadata={"source_files": [f"{path}@{config['start']}" for path, config in group]})
            for group in group_partitions(parts, self._group_bytes(parts))
        ]

    def _group_bytes(self, parts: list[tuple[str, dict]]) -> int:
        if self.group_bytes >= 0:
            return self.group_bytes
        return task_bytes(sum(_partition_bytes(path, config) for path, config in parts), self.split_bytes)


def task_bytes(total: int, most: int) -> int:
    """Bytes per task for about eight tasks per CPU of the cluster, none over `most` (0: no bound)."""
    return min(most or total, total // (8 * _cluster_cpus()))


def group_partitions(parts: list[tuple[str, dict]], group_bytes: int) -> list[list[tuple[str, dict]]]:
    """Consecutive partitions of less than `group_bytes` together until a group reaches it; a larger partition, and
    every partition of a packaged corpus (its size is counted in records), alone."""
    groups: list[list[tuple[str, dict]]] = []
    size = group_bytes  # the group being filled is full: the first partition starts one
    for path, config in parts:
        part = _partition_bytes(path, config)
        if config["format"] == "corpus" or part >= group_bytes:
            groups.append([(path, config)])
            size = group_bytes
        elif size < group_bytes:
            groups[-1].append((path, config))
            size += part
        else:
            groups.append([(path, config)])
            size = part
    return groups


@dataclass
class ParquetGroups(FileSource):
    """Pass 1's Parquet files as pass 2's tasks, for NeMo Curator's ParquetReaderStage: consecutive files with the
    same columns share a task, up to about eight tasks per CPU of the cluster (none over `max_bytes`).

    Pass 1 writes a file per batch (70 for Wikipedia); as a task each, Ray Data's idle time between tasks made pass 2
    take 8.3 s for 3.6 s of work. Files whose columns differ stay apart: the reader concatenates a task's files, and
    would give the records of one the other's fields, as nulls, in the curated output.
    """

    paths: list[str]
    max_bytes: int = 32 * 1024 * 1024
    name: str = "parquet_groups"

    def process(self, _: EmptyTask) -> list[FileGroupTask]:
        import pyarrow.parquet as pq

        parts = [(path, {"format": "parquet", "start": 0, "end": -1}) for path in self.paths]
        limit = task_bytes(sum(_partition_bytes(path, config) for path, config in parts), self.max_bytes)
        runs: list[list[tuple[str, dict]]] = []  # consecutive files of the same columns
        schema = None
        for part in parts:
            this = pq.read_schema(part[0]).remove_metadata()  # pandas' metadata differs with the row count
            if runs and this.equals(schema):
                runs[-1].append(part)
            else:
                runs.append([part])
                schema = this
        tasks = []
        for run in runs:
            for group in group_partitions(run, limit):
                paths = [path for path, _ in group]
                tasks.append(FileGroupTask(dataset_name="curate", data=paths, _metadata={"source_files": paths}))
        return tasks


def _cluster_cpus() -> int:
    """The CPUs of the Ray cluster this runs in (it runs in a Ray task), else of this machine."""
    try:
        import ray

        if ray.is_initialized():
            return max(1, int(ray.cluster_resources().get("CPU", 1)))
    except ImportError:
        pass
    return os.cpu_count() or 1


@dataclass
class RecordReader(ProcessingStage[FileGroupTask, DocumentBatch]):
    """Reads one FileGroupTask into DocumentBatches: each record's fields as columns (see the module docstring).

    text_field: the field holding the text in JSONL/Parquet records and the column in TSV files (for TSV, "text_a"
        is also accepted, as in the LIHKG data, and read as text_field); plain text, CoNLL-U and packaged corpora put
        their text there. id_field: the field holding a record's id, made where it is missing. encoding: of the
        line-oriented files (e.g. big5hkscs, gb18030; ASCII-compatible encodings only).
    records_per_batch: documents per DocumentBatch (not `batch_size`, which Curator's engines read as tasks per call).
    rejects_path: where unreadable records go. counts_path: where per-task record counts go.
    """

    text_field: str = "text"
    id_field: str = "id"
    encoding: str = "utf-8"
    records_per_batch: int = 5000
    rejects_path: str | None = None
    counts_path: str | None = None
    name: str = "read"

    def inputs(self) -> tuple[list[str], list[str]]:
        return [], []

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.id_field, self.text_field, KEY]

    def process(self, task: FileGroupTask) -> list[DocumentBatch]:
        batches: list[DocumentBatch] = []
        bad: list[dict] = []
        parts = task.reader_config["parts"]
        for index, (path, config) in enumerate(zip(task.data, parts, strict=True)):
            good: list[dict] = []
            seen_bad = len(bad)
            for record in Records(self.text_field, self.id_field, self.encoding).read(path, config):
                (bad if "reason" in record else good).append(record)
            if self.counts_path is not None:
                rejected = len(bad) - seen_bad
                _write_count(self.counts_path, task.task_id if len(parts) == 1 else f"{task.task_id}-{index}",
                             config["source"], len(good) + rejected, rejected, _partition_bytes(path, config))
            # A batch holds one partition's records (files may disagree in their fields); a partition with nothing
            # readable gives no batch at all: an empty part is never passed on.
            label = "" if len(parts) == 1 else f"{index}/"
            batches += [
                DocumentBatch(dataset_name=task.dataset_name, data=records_frame(good[i : i + self.records_per_batch]),
                              _metadata={**task._metadata,
                                         "source_files": [*task._metadata.get("source_files", []), f"{label}{i}"]})
                for i in range(0, len(good), self.records_per_batch)
            ]
        if self.rejects_path is not None:
            write_rejects(self.rejects_path, self.name, task.task_id, pd.DataFrame(bad))
        return batches


def records_frame(records: list[dict]) -> pd.DataFrame:
    """A DataFrame of records whose fields may disagree in type from one record to the next (a JSON field that is a
    number in one line and text in another): a column Arrow cannot hold as one type is kept as JSON text."""
    columns = list(dict.fromkeys(k for r in records for k in r))
    df = pd.DataFrame({c: pd.Series([r.get(c) for r in records], dtype=object) for c in columns})
    for column in columns:
        values = df[column].tolist()
        try:
            pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
            df[column] = pd.Series([v if v is None or isinstance(v, str) else
                                    json.dumps(v, ensure_ascii=False, default=str) for v in values],
                                   index=df.index, dtype=object)
    return df


def _write_count(counts_path: str, task_id: str, source: str, records: int, rejected: int, size: int) -> None:
    """The task's counts (what reconciliation starts from), the bytes it covered (progress), and the Ray node that
    read it (where a cluster did its work)."""
    node = None
    try:
        import ray

        if ray.is_initialized():
            node = ray.get_runtime_context().get_node_id()
    except ImportError:
        pass
    with open_in_folder(counts_path, f"{task_id}.json") as f:
        json.dump({"source": source, "records": records, "rejected": rejected, "bytes": size, "node": node}, f)


def _partition_bytes(path: str, config: dict) -> int:
    if config["format"] == "corpus":
        return 0
    return config["end"] - config["start"] if config["end"] >= 0 else os.path.getsize(path)


def _json_raw(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


class Records:
    """Turns the lines or rows of one partition into document records and `read` rejects."""

    def __init__(self, text_field: str = "text", id_field: str = "id", encoding: str = "utf-8") -> None:
        self.text_field, self.id_field, self.encoding = text_field, id_field, encoding

    def read(self, path: str, config: dict) -> Iterator[dict]:
        fmt, source = config["format"], config["source"]
        self._line = config.get("first_line", 1)  # where a failure of the whole file or of its tail is reported
        try:
            if fmt == "corpus":
                start, end = config.get("start", 0), config.get("end", -1)
                for n, (local_id, text) in enumerate(corpus_reader(path)(), start=1):
                    if n > start and (end < 0 or n <= end):
                        yield self.document(source, n, {self.text_field: text}, key=f"{source}:{local_id}")
            elif fmt == "parquet":
                yield from self._parquet(path, source)
            elif fmt in ("json_array", "json_document"):
                yield from self._json_file(path, config, fmt, source)
            else:
                yield from self._lines(path, config, fmt, source)
        except (OSError, EOFError, zlib.error, pa.ArrowException, ValueError) as err:
            # The whole file (or its tail, after the records already yielded) cannot be read.
            truncated = isinstance(err, EOFError | zlib.error | gzip.BadGzipFile)
            reason = "truncated_file" if truncated else "unreadable_file"
            where = f"after line {self._line - 1}" if self._line > 1 else "at its start"
            yield self.rejected(source, self._line, reason,
                                f"{source}: {'compressed data ends early' if truncated else 'cannot be read'} {where} "
                                f"({type(err).__name__}: {err}); the records before it are kept", raw="")

    def document(self, source: str, line: int, fields: dict, key: str | None = None, raw: str | None = None,
                 where: str | None = None) -> dict:
        """A good record, or a rejected one when its text is unusable."""
        key = key or f"{source}:{line}"
        text = fields.get(self.text_field)
        where = where or f"{source} line {line}"
        problem = None
        if text is None:
            problem = ("missing_text", f"{where}: no {self.text_field!r} field (fields: {_field_names(fields)})")
        elif not isinstance(text, str):
            problem = ("non_string_text", f"{where}: {self.text_field!r} is a {type(text).__name__}, not a string")
        elif "\x00" in text:
            problem = ("nul_bytes", f"{where}: text holds NUL bytes (binary data?)")
        elif not text.strip():
            problem = ("empty_text", f"{where}: text is empty or whitespace only")
        if problem:
            rejected = self.rejected(source, line, *problem, raw=raw if raw is not None else _json_raw(fields),
                                     key=fields.get(self.id_field) or key)
            return {**{k: v for k, v in fields.items() if k not in rejected}, **rejected}
        record = dict(fields)
        if record.get(self.id_field) is None:
            record[self.id_field] = key  # made only where the record has none
        record.setdefault("source", source)
        record.setdefault("line", line)
        record[KEY] = key
        return record

    def rejected(self, source: str, line: int, reason: str, detail: str, raw: str, key: str | None = None) -> dict:
        return {"id": key or f"{source}:{line}", "stage": "read", "reason": reason, "detail": detail,
                "source": source, "line": line, "raw": raw.replace("\x00", "\\x00")}

    def _decode(self, raw: bytes, source: str, n: int, first: bool) -> tuple[str | None, dict | None]:
        try:
            line = raw.decode(self.encoding)
        except UnicodeDecodeError as err:
            hint = _likely_encoding(raw) if self.encoding.lower().replace("-", "") == "utf8" else None
            advice = f"; it reads as {hint}: pass encoding={hint}" if hint else ""
            return None, self.rejected(source, n, "invalid_encoding",
                                       f"{source} line {n}: not valid {self.encoding} at byte {err.start}{advice}",
                                       raw=raw.decode("utf-8", errors="backslashreplace").rstrip("\r\n"))
        if first:
            line = line.removeprefix("\ufeff")  # a byte-order mark, as Windows tools write
        return line.rstrip("\r\n"), None

    def _lines(self, path: str, config: dict, fmt: str, source: str) -> Iterator[dict]:
        header: list[str] | None = None
        for n, raw in enumerate(_raw_lines(path, config["start"], config["end"]), start=config["first_line"]):
            self._line = n + 1
            line, problem = self._decode(raw, source, n, first=n == 1)
            if problem:
                yield problem
                continue
            if fmt == "conllu":
                yield from self._conllu_line(source, n, line)
                continue
            if fmt == "txt":
                if line.strip():
                    yield self.document(source, n, {self.text_field: line}, raw=line)
                continue
            if fmt == "tsv":
                if header is None:
                    header = line.split("\t")
                    continue
                yield self._tsv_record(source, n, header, line)
                continue
            if not line.strip():
                continue  # blank lines between JSONL records are not records
            yield self._json_record(source, n, line)

    def _json_record(self, source: str, n: int, line: str) -> dict:
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            return self.rejected(source, n, "invalid_json", f"{source} line {n}: {err.msg} at column {err.colno}",
                                 raw=line)
        except RecursionError:
            return self.rejected(source, n, "invalid_json", f"{source} line {n}: nested too deeply to parse",
                                 raw=line)
        if not isinstance(obj, dict):
            return self.rejected(source, n, "invalid_json",
                                 f"{source} line {n}: a JSON {type(obj).__name__}, not an object", raw=line)
        return self.document(source, n, obj, raw=line)

    def _json_file(self, path: str, config: dict, fmt: str, source: str) -> Iterator[dict]:
        """A whole-file JSON value: the records of an array, one by one, so that the elements before a corruption
        are kept; or one reject for a file that is a single object."""
        data = b"".join(_raw_lines(path, 0, -1)).decode(self.encoding).removeprefix("\ufeff")
        if fmt == "json_document":
            try:
                value = json.loads(data)
            except (ValueError, RecursionError):
                yield from self._lines(path, {**config, "format": "jsonl"}, "jsonl", source)  # JSON Lines, bad line 1
                return
            lists = [k for k, v in value.items() if isinstance(v, list)] if isinstance(value, dict) else []
            hint = (f"; the records may be the list under {', '.join(map(repr, lists))}: write them out as a JSON "
                    "array or as JSON Lines" if lists else "")
            kind = f"one JSON object with the keys {_field_names(value)}" if isinstance(value, dict) else \
                f"one JSON {type(value).__name__}"
            yield self.rejected(source, 1, "invalid_json", f"{source}: {kind}, not records{hint}", raw=data)
            return
        decoder = json.JSONDecoder()
        pos = _skip_space(data, data.index("[") + 1)
        index = 0
        while pos < len(data) and data[pos] != "]":
            self._line = index
            where = f"{source} index {index}"
            try:
                value, end = decoder.raw_decode(data, pos)
            except (json.JSONDecodeError, RecursionError) as err:
                why = (f"{err.msg} at line {err.lineno} column {err.colno}" if isinstance(err, json.JSONDecodeError)
                       else "nested too deeply to parse")
                yield self.rejected(source, index, "invalid_json", f"{where}: {why}; the elements before it are "
                                    "kept, the rest of the file is this reject's raw", raw=data[pos:])
                return
            raw = data[pos:end]
            if isinstance(value, dict):
                yield self.document(source, index, value, raw=raw, where=where)
            else:
                yield self.rejected(source, index, "invalid_json",
                                    f"{where}: a JSON {type(value).__name__}, not an object", raw=raw)
            index += 1
            pos = _skip_space(data, end)
            if pos < len(data) and data[pos] == ",":
                pos = _skip_space(data, pos + 1)
            elif pos < len(data) and data[pos] != "]":
                yield self.rejected(source, index, "invalid_json", f"{source} index {index}: expected ',' or ']' "
                                    "after the previous element; the rest of the file is this reject's raw",
                                    raw=data[pos:])
                return
        if pos >= len(data):
            yield self.rejected(source, index, "truncated_file", f"{source}: the JSON array ends early after index "
                                f"{index - 1}; the elements before it are kept", raw="")
        elif data[pos + 1 :].strip():
            yield self.rejected(source, index, "invalid_json", f"{source}: data after the JSON array's closing ']' "
                                "(JSON Lines? name the file .jsonl)", raw=data[pos + 1 :].strip())

    def _tsv_record(self, source: str, n: int, header: list[str], line: str) -> dict:
        column = self.text_field if self.text_field in header else "text_a" if "text_a" in header else None
        fields = line.split("\t")
        if column is None:
            return self.rejected(source, n, "missing_text",
                                 f"{source} line {n}: no column {self.text_field!r} in the header", raw=line)
        index = header.index(column)
        if len(fields) <= index:
            return self.rejected(source, n, "missing_text",
                                 f"{source} line {n}: {len(fields)} fields, text is field {index + 1}", raw=line)
        record = {k: v for k, v in zip(header, fields, strict=False) if k != column}
        record[self.text_field] = fields[index]
        return self.document(source, n, record, raw=line)

    def _conllu_line(self, source: str, n: int, line: str) -> Iterator[dict]:
        """One document per sentence, from its `# text = ` line; the sentence id comes along as `sent_id`."""
        if line.startswith("# sent_id = "):
            self._sent_id = line.split("=", 1)[1].strip()
        elif line.startswith("# text = "):
            fields = {"sent_id": getattr(self, "_sent_id", None), self.text_field: line.split("=", 1)[1].strip()}
            yield self.document(source, n, fields, raw=line)

    def _parquet(self, path: str, source: str) -> Iterator[dict]:
        import pyarrow.parquet as pq

        with fsspec.open(path, "rb") as f:
            table = pq.read_table(io.BytesIO(f.read()))
        for n, row in enumerate(table.to_pylist(), start=1):
            self._line = n + 1
            yield self.document(source, n, row)


def _field_names(fields: dict) -> str:
    return ", ".join(map(str, fields)) or "none"


def _skip_space(data: str, pos: int) -> int:
    while pos < len(data) and data[pos] in " \t\r\n":
        pos += 1
    return pos


def _likely_encoding(raw: bytes) -> str | None:
    """The Chinese encoding under which an undecodable line reads as mostly Han text, if one does."""
    for encoding in LIKELY_ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        letters = [c for c in text if c.isalpha()]
        if letters and sum("\u3400" <= c <= "\u9fff" for c in letters) / len(letters) >= 0.5:
            return encoding
    return None


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

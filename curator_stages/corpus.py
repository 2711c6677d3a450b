"""Inputs and outputs of the training-data steps (tokenizer, Megatron data): curated documents read in a stable order
outside Ray, and output folders checked before any work.

`input` is a curation output folder (its `curated/` part is read, never `rejects/`), a folder or file of JSONL /
Parquet / text, or a list of them. A record that cannot be read is counted and reported with its file and line, not
silently dropped and not fatal: the callers say how many were skipped.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Skipped:
    """Records that could not be used, with the first few details for the error message."""

    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, detail: str) -> None:
        self.count += 1
        if len(self.examples) < 5:
            self.examples.append(detail)

    def report(self, what: str) -> None:
        if self.count:
            print(f"{what}: skipped {self.count:,} unreadable records, e.g. {'; '.join(self.examples)}",
                  file=sys.stderr)


def resolve_inputs(inputs: str | os.PathLike | list) -> list[str]:
    paths = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    resolved = []
    for entry in paths:
        curated = Path(entry) / "curated"
        resolved.append(str(curated) if curated.is_dir() else str(entry))
    return resolved


def documents(inputs: str | list[str], text_field: str = "text", skipped: Skipped | None = None
              ) -> Iterator[tuple[str, str]]:
    """(id, text) of every readable document; raises FileNotFoundError for a missing or empty input."""
    from canto_nemo.curator_stages.readers import partitions

    for path, config in partitions(resolve_inputs(inputs)):
        yield from partition_documents(path, config, text_field, skipped)


def partition_documents(path: str, config: dict, text_field: str = "text", skipped: Skipped | None = None
                        ) -> Iterator[tuple[str, str]]:
    """(id, text) of the readable documents of one input partition (see curator_stages.readers.partitions): the id
    a record carries (curation kept the user's, or made "<file>:<line>"), else where it was read from."""
    from canto_nemo.curator_stages.readers import read_partition

    for record in read_partition(path, config, text_field):
        if "reason" in record:
            if skipped is not None:
                skipped.add(record["detail"])
            continue
        yield str(record["id"]), record[text_field]

"""Reject accounting: every document a stage drops is written to the rejects folder with its stage and reason.

`ScoreFilterWithRejects` and `FilterWithRejects` are NeMo Curator's `ScoreFilter` and `Filter` with one change:
what a filter drops is not lost but written (all its columns, plus `stage`, `reason`, `detail`) to `rejects_path`,
one file per stage and task. They hook Curator's own `compute_filter_mask`, so chains of filters, `invert`, scores in
`score_field` and everything else behave as in Curator.

A filter names why it drops a document by implementing `ExplainsRejection`; otherwise the reason is its `name`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import fsspec
import pandas as pd
from nemo_curator.stages.text.filters import DocumentFilter, Filter, ScoreFilter
from nemo_curator.tasks import DocumentBatch

from canto_nemo.curator_stages.columns import drop_internal

REJECT_COLUMNS = ("id", "stage", "reason", "detail")


@runtime_checkable
class ExplainsRejection(Protocol):
    """A DocumentFilter that says why it drops a document: `reject_reason(score)` is a short snake_case reason
    (e.g. "too_short"), given the score or field value the filter decided on. It may also say `reject_detail(score)`
    (else the detail is the score)."""

    def reject_reason(self, score: Any) -> str: ...


def open_in_folder(folder: str, name: str, mode: str = "w"):
    """A file to write in a local or remote (fsspec) folder, made if missing: workers write side files this way."""
    fs, base = fsspec.core.url_to_fs(folder)
    fs.makedirs(base, exist_ok=True)
    return fs.open(f"{base.rstrip('/')}/{name}", mode, encoding="utf-8")


def write_rejects(rejects_path: str, stage: str, task_id: str, rejected: pd.DataFrame) -> None:
    """One JSONL file per (stage, task): deterministic names, so a re-run overwrites instead of duplicating."""
    if rejected.empty:
        return
    rejected = drop_internal(rejected)
    columns = [c for c in REJECT_COLUMNS if c in rejected] + [c for c in rejected if c not in REJECT_COLUMNS]
    with open_in_folder(rejects_path, f"{stage}-{task_id or uuid.uuid4().hex}.jsonl") as f:
        for record in rejected[columns].to_dict("records"):
            f.write(json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def reason_for(filter_obj: DocumentFilter, score: Any, invert: bool) -> str:
    if isinstance(filter_obj, ExplainsRejection) and not invert:
        return filter_obj.reject_reason(score)
    return filter_obj.name


def _short(score: Any) -> str:
    if isinstance(score, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in score.items())
    if isinstance(score, float):
        return f"{score:.4g}"
    return str(score)


class _RejectsWriter:
    """What both filter stages add to Curator's: collect each filter's drops, write them once per task."""

    rejects_path: str | None
    _dropped: list[pd.DataFrame]

    def _collect(self, df: pd.DataFrame, keep: pd.Series, filter_obj: DocumentFilter, values: pd.Series,
                 invert: bool, what: str) -> None:
        """`what` names the values in the detail: "length score" (a ScoreFilter), "dialect_label" (a Filter)."""
        if self.rejects_path is None or keep.all():
            return
        rejected = df[~keep].copy()
        dropped = values[~keep]
        rejected["stage"] = self.name
        rejected["reason"] = [reason_for(filter_obj, v, invert) for v in dropped]
        explain = getattr(filter_obj, "reject_detail", None) if not invert else None
        rejected["detail"] = [explain(v) if explain else f"{what} {_short(v)}" for v in dropped]
        self._dropped.append(rejected)

    def _write(self, batch: DocumentBatch) -> None:
        if self._dropped:
            write_rejects(self.rejects_path, self.name, batch.task_id, pd.concat(self._dropped, ignore_index=True))
        self._dropped = []


@dataclass
class ScoreFilterWithRejects(_RejectsWriter, ScoreFilter):
    """Curator's ScoreFilter, writing what it drops to `rejects_path` (None: drop silently, as ScoreFilter does)."""

    rejects_path: str | None = None
    _dropped: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        given = self.name
        super().__post_init__()  # names the stage after its filter; a name the caller gave wins
        if given != ScoreFilter.name:
            self.name = given

    def compute_filter_mask(self, df: pd.DataFrame, filter_obj: DocumentFilter, text_field: str,
                            score_field: str | None, invert: bool) -> pd.Series:
        # a filter that scores a whole batch at once (quality.py's character-class filters) is asked so
        batch = getattr(filter_obj, "score_batch", None)
        scores = batch(df[text_field]) if batch else df[text_field].apply(filter_obj.score_document)
        if score_field is not None:
            df[score_field] = scores
        keep = scores.apply(filter_obj.keep_document).astype(bool)
        if invert:
            keep = ~keep
        self._collect(df, keep, filter_obj, scores, invert, f"{filter_obj.name} score")
        return keep

    def process(self, batch: DocumentBatch) -> DocumentBatch | None:
        result = super().process(batch)
        self._write(batch)
        return result


@dataclass
class FilterWithRejects(_RejectsWriter, Filter):
    """Curator's Filter (decides on fields a previous stage wrote), writing what it drops to `rejects_path`."""

    rejects_path: str | None = None
    _dropped: list = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        given = self.name
        super().__post_init__()
        if given != Filter.name:
            self.name = given

    def compute_filter_mask(self, df: pd.DataFrame, filter_fn: DocumentFilter, filter_field: str,
                            invert: bool) -> pd.Series:
        keep = super().compute_filter_mask(df, filter_fn, filter_field, invert).astype(bool)
        self._collect(df, keep, filter_fn, df[filter_field], invert, f"{filter_field} =")
        return keep

    def process(self, batch: DocumentBatch) -> DocumentBatch | None:
        result = super().process(batch)
        self._write(batch)
        return result

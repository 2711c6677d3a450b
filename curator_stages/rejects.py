"""Reject accounting: every document a stage drops is written to the rejects folder with its stage and reason.

`ScoreFilterWithRejects` is NeMo Curator's `ScoreFilter` that, instead of dropping documents silently, writes each
dropped one (all its columns, plus `stage`, `reason`, `detail`) to `rejects_path`. A filter may return a dict of
scores (each becomes a column) and may name its reasons with `reject_reason(score) -> str`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import fsspec
import pandas as pd
from nemo_curator.stages.text.filters import DocumentFilter, ScoreFilter
from nemo_curator.tasks import DocumentBatch

REJECT_COLUMNS = ("id", "stage", "reason", "detail")


def open_in_folder(folder: str, name: str):
    """A file to write in a local or remote (fsspec) folder, made if missing: workers write side files this way."""
    fs, base = fsspec.core.url_to_fs(folder)
    fs.makedirs(base, exist_ok=True)
    return fs.open(f"{base.rstrip('/')}/{name}", "w", encoding="utf-8")


def write_rejects(rejects_path: str, stage: str, task_id: str, rejected: pd.DataFrame) -> None:
    """One JSONL file per (stage, task): deterministic names, so a re-run overwrites instead of duplicating."""
    if rejected.empty:
        return
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


@dataclass
class ScoreFilterWithRejects(ScoreFilter):
    """Curator's ScoreFilter, writing what it drops to `rejects_path` (None: drop silently, as ScoreFilter does)."""

    rejects_path: str | None = None

    def __post_init__(self) -> None:
        given = self.name
        super().__post_init__()  # names the stage after its filter; a name the caller gave wins
        if given != ScoreFilter.name:
            self.name = given

    def process(self, batch: DocumentBatch) -> DocumentBatch | None:
        df = batch.to_pandas()
        for filter_obj, text_field, score_field, invert in zip(
            self.filter_obj, self.text_field, self.score_field, self.invert, strict=True
        ):
            if df.empty:
                break
            scores = _scores(filter_obj, df[text_field])
            keep = pd.Series([bool(filter_obj.keep_document(s)) for s in scores], index=df.index)
            if invert:
                keep = ~keep
            if scores and isinstance(scores[0], dict):
                for column in scores[0]:
                    df[column] = [s[column] for s in scores]
            elif score_field is not None:
                df[score_field] = scores
            if self.rejects_path is not None and not keep.all():
                rejected = df[~keep].copy()
                dropped_scores = [s for s, k in zip(scores, keep, strict=True) if not k]
                rejected["stage"] = self.name
                rejected["reason"] = [_reason(filter_obj, s, invert) for s in dropped_scores]
                rejected["detail"] = [f"{filter_obj.name} score {_short(s)}" for s in dropped_scores]
                write_rejects(self.rejects_path, self.name, batch.task_id, rejected)
            df = df[keep]
        return DocumentBatch(
            dataset_name=batch.dataset_name, data=df, _metadata=batch._metadata, _stage_perf=batch._stage_perf
        )


def _scores(filter_obj: DocumentFilter, texts: pd.Series) -> list:
    if hasattr(filter_obj, "score_batch"):  # a vectorised form, where the filter has one
        return list(filter_obj.score_batch(texts.tolist()))
    return [filter_obj.score_document(t) for t in texts]


def _reason(filter_obj: DocumentFilter, score: Any, invert: bool) -> str:
    if hasattr(filter_obj, "reject_reason") and not invert:
        return filter_obj.reject_reason(score)
    return filter_obj.name


def _short(score: Any) -> str:
    if isinstance(score, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in score.items())
    if isinstance(score, float):
        return f"{score:.4g}"
    return str(score)

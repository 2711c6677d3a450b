"""The dialect step: a labelling stage, then a policy filter on what it wrote.

`DialectLabeler` runs the pack's detector (built once per worker process) and writes `dialect_label`,
`dialect_score` (probability of the pack's target variety) and `dialect_share` (the target variety's share of the
script characters; null when no sentence carries evidence either way). It drops nothing.

`DialectFilter` is Curator's `Filter` (with rejects) over those columns: a document is kept when its label is in
`keep_labels` and, for the label "mixed", its share is at least `min_share`, and, for every other kept label, its
score is at least `min_score`. A dropped document's reason is its label ("written_chinese", "other", ...), or
`mixed_low_share`, or `low_dialect_score`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import pandas as pd
from nemo_curator.stages.base import ProcessingStage
from nemo_curator.stages.text.filters import DocumentFilter
from nemo_curator.tasks import DocumentBatch

from canto_nemo.curator_stages.language_pack import DialectDetector, LanguagePack, get_pack
from canto_nemo.curator_stages.rejects import FilterWithRejects

COLUMNS = ("dialect_label", "dialect_score", "dialect_share")
MIXED = "mixed"


@dataclass
class DialectLabeler(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Adds the dialect columns; drops nothing."""

    pack: LanguagePack | str
    text_field: str = "text"
    name: str = "dialect_label"
    _detector: DialectDetector | None = field(default=None, init=False, repr=False)

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(COLUMNS)

    def process(self, batch: DocumentBatch) -> DocumentBatch:
        # Built on first use, once per worker process (cached by the pack). Not in `setup`: that would make this an
        # actor stage, which Ray Data cannot fuse with its neighbours into one task.
        if self._detector is None:
            self._detector = _detector(get_pack(self.pack))
        df = batch.to_pandas()
        results = self._detector.detect_batch(df[self.text_field].tolist())
        df["dialect_label"] = pd.Series([r.label for r in results], index=df.index, dtype=object)
        df["dialect_score"] = pd.Series([round(r.score, 4) for r in results], index=df.index, dtype=float)
        df["dialect_share"] = pd.Series([None if r.share is None else round(r.share, 4) for r in results],
                                        index=df.index, dtype=float)
        return DocumentBatch(dataset_name=batch.dataset_name, data=df, _metadata=batch._metadata,
                             _stage_perf=batch._stage_perf)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_detector": None}  # rebuilt on the worker


@cache
def _detector(pack: LanguagePack) -> DialectDetector:
    return pack.dialect_detector()


class DialectPolicy(DocumentFilter):
    """The keep rule over one document's dialect columns (a dict of `COLUMNS`)."""

    def __init__(self, keep_labels: Sequence[str], min_share: float = 0.0, min_score: float = 0.0) -> None:
        super().__init__()
        self.keep_labels, self.min_share, self.min_score = tuple(keep_labels), min_share, min_score
        self._name = "dialect"

    def score_document(self, text: str) -> float:
        msg = "DialectPolicy decides on the columns DialectLabeler wrote; it does not score text"
        raise NotImplementedError(msg)

    def keep_document(self, record: dict) -> bool:
        return self.reject_reason(record) is None

    def reject_reason(self, record: dict) -> str | None:
        label, score, share = (record[c] for c in COLUMNS)
        if label not in self.keep_labels:
            return label
        if label == MIXED:
            return None if share is not None and share >= self.min_share else "mixed_low_share"
        return None if score >= self.min_score else "low_dialect_score"


@dataclass
class DialectFilter(FilterWithRejects):
    """Curator's Filter on the dialect columns; the keep rule is `DialectPolicy`. keep_labels=None: the pack's
    default (`LanguagePack.default_keep_labels`)."""

    filter_fn: DialectPolicy | None = None
    filter_field: str = "dialect_label"
    pack: LanguagePack | str | None = None
    keep_labels: Sequence[str] | None = None
    min_share: float = 0.3
    min_score: float = 0.0
    name: str = "dialect"

    def __post_init__(self) -> None:
        if self.filter_fn is None:
            if self.keep_labels is None and self.pack is None:
                msg = "DialectFilter needs keep_labels or a pack (whose default_keep_labels are used)"
                raise ValueError(msg)
            labels = self.keep_labels if self.keep_labels is not None else get_pack(self.pack).default_keep_labels
            self.filter_fn = DialectPolicy(labels, self.min_share, self.min_score)
        super().__post_init__()

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], list(COLUMNS)

    def compute_filter_mask(self, df: pd.DataFrame, filter_fn: DialectPolicy, filter_field: str,
                            invert: bool) -> pd.Series:
        # The rule reads all three columns, where Curator's Filter hands a filter one field.
        records = pd.Series(df[list(COLUMNS)].astype(object).where(df[list(COLUMNS)].notna(), None)
                            .to_dict("records"), index=df.index)
        keep = records.apply(filter_fn.keep_document).astype(bool)
        if invert:
            keep = ~keep
        self._collect(df, keep, filter_fn, records, invert, "dialect")
        return keep


def label_lines(lines, pack: LanguagePack | str, text_field: str = "text"):
    """For `canto-nemo detect`: each non-blank line (plain text, or a JSONL record with `text_field`) -> a dict with
    text, label, score and share; a line that is JSON but not a record with that string field -> (line number,
    error message)."""
    import json

    detector = get_pack(pack).dialect_detector()
    for n, line in enumerate(lines, start=1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        text = line
        if line.lstrip().startswith("{"):
            try:
                text = json.loads(line)[text_field]
                if not isinstance(text, str):
                    raise TypeError(f"{text_field!r} is a {type(text).__name__}")
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                yield n, f"line {n}: not a JSON object with a {text_field!r} string ({err})"
                continue
        (result,) = detector.detect_batch([text])
        yield {"text": text, "label": result.label, "score": round(result.score, 4),
               "share": None if result.share is None else round(result.share, 4)}

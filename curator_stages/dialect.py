"""Dialect filter: the pack's detector as a Curator DocumentFilter, keeping label, score and share as columns.

Policy: keep documents whose label is in keep_labels; a "mixed" document also needs its target-variety share to be
at least min_share; any kept document needs a score of at least min_score.
"""

from __future__ import annotations

from collections.abc import Sequence

from nemo_curator.stages.text.filters import DocumentFilter

from curator_stages.language_pack import LanguagePack, get_pack


class DialectFilter(DocumentFilter):
    def __init__(
        self,
        pack: LanguagePack | str = "cantonese",
        keep_labels: Sequence[str] = ("cantonese", "mixed"),
        min_share: float = 0.3,
        min_score: float = 0.0,
    ) -> None:
        super().__init__()
        self.pack = get_pack(pack)
        self.keep_labels = tuple(keep_labels)
        self.min_share, self.min_score = min_share, min_score
        self._name = "dialect"

    def score_document(self, text: str) -> dict:
        return self.score_batch([text])[0]

    def score_batch(self, texts: Sequence[str]) -> list[dict]:
        return [
            {"dialect_label": r.label, "dialect_score": round(r.score, 4), "dialect_share": round(r.share, 4)}
            for r in self.pack.detect_dialect_batch(texts)
        ]

    def keep_document(self, score: dict) -> bool:
        label = score["dialect_label"]
        if label not in self.keep_labels:
            return False
        if label == "mixed" and score["dialect_share"] < self.min_share:
            return False
        return score["dialect_score"] >= self.min_score or label == "mixed"

    def reject_reason(self, score: dict) -> str:
        label = score["dialect_label"]
        if label not in self.keep_labels:
            return label
        return "mixed_low_share" if label == "mixed" else "low_dialect_score"

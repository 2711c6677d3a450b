import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nemo_curator.tasks import DocumentBatch

from canto_nemo.curator_stages.dialect import DialectFilter, DialectLabeler, DialectPolicy
from canto_nemo.curator_stages.quality import CharLengthFilter, SymbolRatioFilter
from canto_nemo.curator_stages.rejects import ScoreFilterWithRejects


def batch(texts: list[str]) -> DocumentBatch:
    ids = [f"doc:{i}" for i in range(len(texts))]
    return DocumentBatch(dataset_name="t", data=pd.DataFrame({"id": ids, "text": texts}))


def rejects_in(folder) -> list[dict]:
    return [json.loads(line) for p in sorted(folder.glob("*.jsonl")) for line in p.open(encoding="utf-8")]


def test_dropped_documents_are_written_with_stage_reason_and_score(tmp_path):
    stage = ScoreFilterWithRejects(CharLengthFilter(3, 10), name="length", score_field="length_chars",
                                   rejects_path=str(tmp_path))
    kept = stage.process(batch(["好", "佢哋喺度食緊飯", "好" * 11])).to_pandas()
    assert kept["id"].tolist() == ["doc:1"] and kept["length_chars"].tolist() == [7]
    rejected = {r["id"]: r for r in rejects_in(tmp_path)}
    assert rejected["doc:0"]["reason"] == "too_short" and rejected["doc:2"]["reason"] == "too_long"
    assert rejected["doc:0"]["stage"] == "length" and rejected["doc:0"]["text"] == "好"
    assert "score 1" in rejected["doc:0"]["detail"]


def test_dialect_columns_land_in_kept_and_rejected_records(tmp_path):
    labels = DialectLabeler("cantonese")
    stage = DialectFilter(keep_labels=["cantonese"], rejects_path=str(tmp_path))
    kept = stage.process(labels.process(batch(["佢哋喺度食緊飯，你嚟唔嚟呀？", "他們在吃飯，你來不來？"]))).to_pandas()
    assert kept["dialect_label"].tolist() == ["cantonese"] and kept["dialect_score"].iloc[0] > 0.9
    (rejected,) = rejects_in(tmp_path)
    assert rejected["reason"] == "written_chinese" and rejected["dialect_score"] < 0.1
    assert rejected["stage"] == "dialect" and "dialect_label=written_chinese" in rejected["detail"]


def test_each_filter_of_a_chain_keeps_its_rejects(tmp_path):
    """Curator's list-of-filters form: rejects of the first filter survive those of the second (one file per task)."""
    stage = ScoreFilterWithRejects([CharLengthFilter(3, 100), SymbolRatioFilter(0.2)], name="quality",
                                   score_field=["length_score", "symbols_score"], rejects_path=str(tmp_path))
    kept = stage.process(batch(["好", "佢哋喺度食緊飯", "！！！？？？好好"])).to_pandas()
    assert kept["id"].tolist() == ["doc:1"] and kept["symbols_score"].tolist() == [0.0]
    rejected = {r["id"]: r["reason"] for r in rejects_in(tmp_path)}
    assert rejected == {"doc:0": "too_short", "doc:2": "too_many_symbols"}


@pytest.mark.parametrize(("row", "reason"), [
    ({"dialect_label": "mixed", "dialect_score": 0.1, "dialect_share": 0.5}, None),  # mixed: no score floor
    ({"dialect_label": "mixed", "dialect_score": 0.9, "dialect_share": 0.2}, "mixed_low_share"),
    ({"dialect_label": "cantonese", "dialect_score": 0.55, "dialect_share": 1.0}, "low_dialect_score"),
    ({"dialect_label": "cantonese", "dialect_score": 0.95, "dialect_share": 1.0}, None),
    ({"dialect_label": "written_chinese", "dialect_score": 0.1, "dialect_share": 0.0}, "written_chinese"),
])
def test_the_policy_does_what_its_docstring_says(row, reason):
    """A kept label needs min_score, except "mixed", which needs min_share instead."""
    policy = DialectPolicy(["cantonese", "mixed"], min_share=0.3, min_score=0.6)
    assert policy.reject_reason(row) == reason and policy.keep_document(row) == (reason is None)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=15), max_size=30), st.integers(0, 10), st.integers(0, 15))
def test_kept_plus_rejected_is_always_everything(tmp_path_factory, texts, low, high):
    folder = tmp_path_factory.mktemp("rejects")
    stage = ScoreFilterWithRejects(CharLengthFilter(low, high), rejects_path=str(folder))
    kept = stage.process(batch(texts)).to_pandas()
    rejected = rejects_in(folder)
    assert len(kept) + len(rejected) == len(texts)
    assert sorted(kept["id"].tolist() + [r["id"] for r in rejected]) == sorted(f"doc:{i}" for i in range(len(texts)))

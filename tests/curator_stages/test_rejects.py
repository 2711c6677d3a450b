import json

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from nemo_curator.tasks import DocumentBatch

from curator_stages.dialect import DialectFilter
from curator_stages.quality import CharLengthFilter
from curator_stages.rejects import ScoreFilterWithRejects


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


def test_dialect_scores_become_columns_in_kept_and_rejected_records(tmp_path):
    stage = ScoreFilterWithRejects(DialectFilter("cantonese", keep_labels=["cantonese"]), name="dialect",
                                   rejects_path=str(tmp_path))
    kept = stage.process(batch(["佢哋喺度食緊飯，你嚟唔嚟呀？", "他們在吃飯，你來不來？"])).to_pandas()
    assert kept["dialect_label"].tolist() == ["cantonese"] and kept["dialect_score"].iloc[0] > 0.9
    (rejected,) = rejects_in(tmp_path)
    assert rejected["reason"] == "written_chinese" and rejected["dialect_score"] < 0.1


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(max_size=15), max_size=30), st.integers(0, 10), st.integers(0, 15))
def test_kept_plus_rejected_is_always_everything(tmp_path_factory, texts, low, high):
    folder = tmp_path_factory.mktemp("rejects")
    stage = ScoreFilterWithRejects(CharLengthFilter(low, high), rejects_path=str(folder))
    kept = stage.process(batch(texts)).to_pandas()
    rejected = rejects_in(folder)
    assert len(kept) + len(rejected) == len(texts)
    assert sorted(kept["id"].tolist() + [r["id"] for r in rejected]) == sorted(f"doc:{i}" for i in range(len(texts)))

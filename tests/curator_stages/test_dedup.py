import json
import random

import pandas as pd
from nemo_curator.tasks import DocumentBatch

from canto_nemo.curator_stages.columns import KEY
from canto_nemo.curator_stages.dedup import (
    DuplicateRemover,
    ExactHashStage,
    exact_hash,
    find_exact_duplicates,
    with_survivor_ids,
)


def test_hash_ignores_whitespace_only():
    assert exact_hash("佢哋 喺度\n食飯") == exact_hash("佢哋喺度食飯")
    assert exact_hash("佢哋喺度食飯") != exact_hash("佢哋喺度食飯。")


def _write_partitions(folder, rows, parts):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(parts):
        chunk = rows[i::parts]
        df = pd.DataFrame({"id": [r[0] for r in chunk], KEY: [r[0] for r in chunk], "text": [r[1] for r in chunk]})
        out = ExactHashStage().process(DocumentBatch(dataset_name="t", data=df)).to_pandas()
        out.to_parquet(folder / f"part{i}.parquet")


def test_survivor_is_the_smallest_id_whatever_the_order_and_partitioning(tmp_path):
    rows = [(f"d{i:03d}", text) for i, text in enumerate(["甲", "乙", "甲", "丙", "乙", "甲 ", "丁"])]
    results = []
    for trial in range(4):
        shuffled = rows[:]
        random.Random(trial).shuffle(shuffled)
        _write_partitions(tmp_path / f"t{trial}", shuffled, parts=trial + 1)
        found = find_exact_duplicates(str(tmp_path / f"t{trial}"))
        results.append(sorted(zip(found[KEY], found["duplicate_of_key"], strict=True)))
    assert results[0] == [("d002", "d000"), ("d004", "d001"), ("d005", "d000")]
    assert all(r == results[0] for r in results)


def test_remover_drops_duplicates_and_names_their_survivors_id(tmp_path):
    """Users' ids need not be unique: the dedup steps go by the internal key and report the survivor's user id."""
    rows = pd.DataFrame({"id": [7, 7, 9], KEY: ["f:1", "f:2", "f:3"], "text": ["x", "x", "y"]})
    rows.to_parquet(tmp_path / "part.parquet")
    duplicates = pd.DataFrame({KEY: ["f:2"], "duplicate_of_key": ["f:1"]})
    with_survivor_ids(duplicates, [str(tmp_path / "part.parquet")], "id").to_parquet(tmp_path / "dups.parquet")
    stage = DuplicateRemover(str(tmp_path / "dups.parquet"), rejects_path=str(tmp_path / "rejects"))
    kept = stage.process(DocumentBatch(dataset_name="t", data=rows)).to_pandas()
    assert kept[KEY].tolist() == ["f:1", "f:3"]
    (record,) = [json.loads(line) for p in (tmp_path / "rejects").glob("*.jsonl") for line in p.open()]
    assert record["reason"] == "exact_duplicate" and record["duplicate_of"] == "7" and record["stage"] == "exact_dedup"
    assert record["detail"] == "same text as 7 (whitespace aside)" and KEY not in record


def test_remover_pairs_each_duplicate_with_its_own_survivor_in_any_batch(tmp_path):
    keys = [f"src:{i}" for i in range(2000)]
    duplicate_of = {k: f"id{int(k[4:]) // 10}" for k in keys[::3]}  # every third document duplicates another
    pd.DataFrame({KEY: list(duplicate_of), "duplicate_of": list(duplicate_of.values()),
                  "duplicate_of_key": list(duplicate_of.values())}).to_parquet(tmp_path / "dups.parquet")
    stage = DuplicateRemover(str(tmp_path / "dups.parquet"), rejects_path=str(tmp_path / "rejects"))
    shuffled = keys[:]
    random.Random(0).shuffle(shuffled)
    kept = []
    for start in range(0, len(shuffled), 300):
        batch = pd.DataFrame({"id": shuffled[start : start + 300], KEY: shuffled[start : start + 300], "text": "x"})
        kept += stage.process(DocumentBatch(dataset_name="t", data=batch)).to_pandas()[KEY].tolist()
    assert sorted(kept) == sorted(set(keys) - set(duplicate_of))
    records = [json.loads(line) for p in (tmp_path / "rejects").glob("*.jsonl") for line in p.open()]
    assert {r["id"]: r["duplicate_of"] for r in records} == duplicate_of
    empty = pd.DataFrame({KEY: pd.Series([], dtype=object), "duplicate_of": pd.Series([], dtype=object),
                          "duplicate_of_key": pd.Series([], dtype=object)})
    empty.to_parquet(tmp_path / "none.parquet")
    batch = pd.DataFrame({"id": keys[:5], KEY: keys[:5], "text": "x"})
    assert len(DuplicateRemover(str(tmp_path / "none.parquet")).process(DocumentBatch(dataset_name="t",
                                                                                         data=batch)).to_pandas()) == 5

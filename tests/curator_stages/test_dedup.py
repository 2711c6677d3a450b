import json
import random

import pandas as pd
from nemo_curator.tasks import DocumentBatch

from canto_nemo.curator_stages.dedup import DuplicateRemover, ExactHashStage, exact_hash, find_exact_duplicates


def test_hash_ignores_whitespace_only():
    assert exact_hash("佢哋 喺度\n食飯") == exact_hash("佢哋喺度食飯")
    assert exact_hash("佢哋喺度食飯") != exact_hash("佢哋喺度食飯。")


def _write_partitions(folder, rows, parts):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(parts):
        chunk = rows[i::parts]
        df = pd.DataFrame({"id": [r[0] for r in chunk], "text": [r[1] for r in chunk]})
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
        results.append(sorted(zip(found["id"], found["duplicate_of"], strict=True)))
    assert results[0] == [("d002", "d000"), ("d004", "d001"), ("d005", "d000")]
    assert all(r == results[0] for r in results)


def test_remover_drops_duplicates_and_records_their_survivor(tmp_path):
    pd.DataFrame({"id": ["b"], "duplicate_of": ["a"]}).to_parquet(tmp_path / "dups.parquet")
    stage = DuplicateRemover(str(tmp_path / "dups.parquet"), rejects_path=str(tmp_path / "rejects"))
    df = pd.DataFrame({"id": ["a", "b", "c"], "text": ["x", "x", "y"], "_exact_hash": ["1", "1", "2"]})
    kept = stage.process(DocumentBatch(dataset_name="t", data=df)).to_pandas()
    assert kept["id"].tolist() == ["a", "c"] and "_exact_hash" not in kept
    (record,) = [json.loads(line) for p in (tmp_path / "rejects").glob("*.jsonl") for line in p.open()]
    assert record["reason"] == "exact_duplicate" and record["duplicate_of"] == "a" and record["stage"] == "exact_dedup"

"""A run's statistics are counted from what it wrote, each file read once: as Arrow where it can be, line by line where
a field's type changes between lines; both give what reading every record with json.loads gives."""

import json
from collections import Counter

import pandas as pd

from canto_nemo.curator_stages.stats import collect_stats, written_files


def doc(id_, content, source, label, score, **more):
    return {"id": id_, "content": content, "source": source, "dialect_label": label, "dialect_score": score, **more}


CURATED = [doc("a1", "佢哋今日去咗街市買餸。", "forum.jsonl", "cantonese", 0.97),
           doc("a2", "我哋聽日見。", "forum.jsonl", "cantonese", 0.91),
           doc("a3", "本港今日天氣晴朗。", "news.jsonl", "neutral", 0.5)]
# `meta` is a string on one line and a number on the next: Arrow cannot type the file, so it is read line by line.
MIXED = [doc("b1", "你食咗飯未呀？", "chat.jsonl", "cantonese", 0.99, meta="x"),
         doc("b2", "冇問題。", "chat.jsonl", "cantonese", 0.88, meta=3)]
PARQUET = [doc("c1", "返工喇。", "chat.jsonl", "cantonese", 0.8)]
REJECTS = [
    {"id": "r1", "stage": "length", "reason": "too_short", "detail": 2, "content": "好。", "source": "forum.jsonl"},
    {"stage": "dialect", "reason": "written_chinese", "detail": "dialect_score=0.01",
     **doc("r2", "警方拘捕一名男子。", "news.jsonl", "written_chinese", 0.01)},
    {"id": "r3", "stage": "read", "reason": "invalid_json", "detail": "line 4", "raw": "{not json"},
]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def test_arrow_and_line_by_line_reads_count_what_json_loads_counts(tmp_path):
    curated, rejects, counts = tmp_path / "curated", tmp_path / "rejects", tmp_path / "counts"
    for folder in (curated, rejects, counts):
        folder.mkdir()
    write_jsonl(curated / "a.jsonl", CURATED)
    write_jsonl(curated / "b.jsonl", MIXED)
    (curated / "empty.jsonl").write_text("")
    pd.DataFrame(PARQUET).to_parquet(curated / "c.parquet", index=False)
    write_jsonl(rejects / "length-1.jsonl", REJECTS[:1])
    write_jsonl(rejects / "other-1.jsonl", REJECTS[1:])
    (counts / "read.json").write_text(json.dumps({"records": 9}))

    files = list(written_files(curated, "content"))
    assert [f.table is None for f in files] == [False, True, False]  # a.jsonl by Arrow, b.jsonl line by line, parquet
    stats = collect_stats(str(curated), str(rejects), ["read", "length", "dialect"], str(counts), 1.0,
                          text_field="content")

    kept = CURATED + MIXED + PARQUET
    assert stats["documents_out"] == 6 and stats["documents_rejected"] == 3 and stats["reconciled"]
    assert [(s["stage"], s["in"], s["out"]) for s in stats["stages"]] == [("read", 9, 8), ("length", 8, 7),
                                                                          ("dialect", 7, 6)]
    lengths = stats["distributions"]["curated_length_chars"]
    assert sum(lengths["counts"]) == 6
    assert lengths["counts"][:2] == [5, 1]  # one text of eleven characters, the others under ten
    assert stats["curated_dialect_labels"] == dict(Counter(r["dialect_label"] for r in kept).most_common())
    assert stats["curated_sources"] == {
        "forum.jsonl": {"documents": 2, "characters": len(CURATED[0]["content"]) + len(CURATED[1]["content"]),
                        "dialect_labels": {"cantonese": 2}},
        "news.jsonl": {"documents": 1, "characters": len(CURATED[2]["content"]), "dialect_labels": {"neutral": 1}},
        "chat.jsonl": {"documents": 3, "characters": sum(len(r["content"]) for r in MIXED + PARQUET),
                       "dialect_labels": {"cantonese": 3}}}
    features = {f["name"]: f.get("dtype") for f in stats["curated_features"]}
    assert set(features) == {"id", "content", "source", "dialect_label", "dialect_score", "meta"}
    assert features["dialect_score"] == "float64" and features["meta"] in ("string", "large_string")  # str and int
    examples = {(e["stage"], e["reason"]): e["documents"] for e in stats["examples"]}
    assert examples["length", "too_short"] == [{"id": "r1", "detail": 2, "text": "好。"}]
    assert examples["read", "invalid_json"] == [{"id": "r3", "detail": "line 4", "text": "{not json"}]  # no text: raw
    tally = stats["dialect_labels"]
    assert tally["cantonese"]["documents"] == 5 and tally["cantonese"]["kept"] == 5
    assert tally["written_chinese"] == {"documents": 1, "share": round(1 / 7, 4), "kept": 0, "examples": [
        {"id": "r2", "score": 0.01, "kept": False, "text": "警方拘捕一名男子。"}]}


def test_strings_that_look_like_dates_stay_strings(tmp_path):
    """Arrow reads ISO dates in JSON as timestamps; the statistics must see the strings JSON holds."""
    curated, rejects, counts = tmp_path / "curated", tmp_path / "rejects", tmp_path / "counts"
    for folder in (curated, rejects, counts):
        folder.mkdir()
    write_jsonl(curated / "a.jsonl", [doc("2020-01-01", "2020-01-02", "s", "neutral", 0.5)])
    write_jsonl(rejects / "length-1.jsonl", [{"id": "2020-01-03", "stage": "length", "reason": "too_short",
                                              "detail": "2021-05-06", "content": "2021-05-07"}])
    (counts / "read.json").write_text(json.dumps({"records": 2}))
    assert all(f.table is None for f in written_files(curated))
    stats = collect_stats(str(curated), str(rejects), ["read", "length"], str(counts), 1.0, text_field="content")
    json.dumps(stats)  # nothing but JSON's own types
    assert stats["curated_sources"]["s"]["characters"] == 10
    assert stats["examples"][0]["documents"] == [{"id": "2020-01-03", "detail": "2021-05-06", "text": "2021-05-07"}]
    assert stats["dialect_labels"]["neutral"]["examples"][0]["id"] == "2020-01-01"


def test_a_field_of_different_types_in_different_files_is_declared_a_string(tmp_path):
    curated, rejects, counts = tmp_path / "curated", tmp_path / "rejects", tmp_path / "counts"
    for folder in (curated, rejects, counts):
        folder.mkdir()
    write_jsonl(curated / "a.jsonl", [doc("a", "你好。", "a", "neutral", 0.5, n=1)])
    write_jsonl(curated / "b.jsonl", [doc("b", "佢哋嚟咗。", "b", "cantonese", 0.9, n="one")])
    (counts / "read.json").write_text(json.dumps({"records": 2}))
    stats = collect_stats(str(curated), str(rejects), ["read"], str(counts), 1.0, text_field="content")
    features = {f["name"]: f.get("dtype") for f in stats["curated_features"]}
    assert features["n"] == "string" and features["dialect_score"] == "float64" and stats["reconciled"]

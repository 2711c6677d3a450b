import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nemo_curator.tasks import EmptyTask, FileGroupTask

from canto_nemo.curator_stages.readers import InputPartitioner, RecordReader, expand_inputs


def read_all(paths: list[str], tmp_path: Path, split_bytes: int = 256 * 1024 * 1024, group_bytes: int = -1,
             **options):
    """Runs both reader stages directly; returns (documents, rejects, total records counted)."""
    rejects, counts = tmp_path / "rejects", tmp_path / "counts"
    reader = RecordReader(records_per_batch=7, rejects_path=str(rejects), counts_path=str(counts), **options)
    docs = []
    for i, task in enumerate(InputPartitioner(paths, split_bytes=split_bytes,
                                                     group_bytes=group_bytes).process(EmptyTask())):
        task.task_id = f"t{i}"
        for batch in reader.process(task):
            docs.append(batch.to_pandas())
    documents = pd.concat(docs, ignore_index=True) if docs else pd.DataFrame({"id": [], "text": []})
    rejected = [json.loads(line) for p in sorted(rejects.glob("*.jsonl")) for line in p.open(encoding="utf-8")]
    counted = sum(json.loads(p.read_text())["records"] for p in counts.glob("*.json"))
    return documents, rejected, counted


def test_every_bad_record_is_a_reject_naming_file_and_line(tmp_path):
    path = tmp_path / "posts.jsonl"
    lines = [
        json.dumps({"text": "佢哋喺度食緊飯", "url": "https://lihkg.com/1"}, ensure_ascii=False).encode(),
        b'{"text": "broken',                                        # 2 malformed JSON
        '{"text": "唔該晒"}'.encode("big5hkscs"),                    # 3 invalid UTF-8
        b'{"title": "no text field"}',                              # 4 missing text
        b'{"text": 42}',                                             # 5 not a string
        b'{"text": ""}',                                             # 6 empty
        b'{"text": "  \\n\\t "}',                                    # 7 whitespace only
        b'{"text": "bin\\u0000ary"}',                                # 8 NUL byte
        b'[1, 2]',                                                   # 9 JSON, not an object
        b"",                                                         # 10 blank line: not a record
        json.dumps({"text": "大" * 3_500_000}).encode(),            # 11 a 10 MB document
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    documents, rejected, counted = read_all([str(path)], tmp_path)

    assert documents["id"].tolist() == ["posts.jsonl:1", "posts.jsonl:11"]
    assert documents["url"][0] == "https://lihkg.com/1"
    assert len(documents["text"][1]) == 3_500_000
    reasons = {r["line"]: r["reason"] for r in rejected}
    assert reasons == {2: "invalid_json", 3: "invalid_encoding", 4: "missing_text", 5: "non_string_text",
                       6: "empty_text", 7: "empty_text", 8: "nul_bytes", 9: "invalid_json"}
    for r in rejected:
        assert r["stage"] == "read" and f"posts.jsonl line {r['line']}" in r["detail"] and "raw" in r
    assert counted == len(documents) + len(rejected) == 10


def test_missing_input_fails_at_once_with_its_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no/such/file\.jsonl"):
        expand_inputs([str(tmp_path / "no/such/file.jsonl")])
    with pytest.raises(ValueError, match="unsupported input file"):
        (tmp_path / "x.docx").write_text("x")
        expand_inputs([str(tmp_path / "x.docx")])
    with pytest.raises(ValueError, match="unknown packaged corpus"):
        expand_inputs(["pycantonese:nope"])


def test_lihkg_tsv_and_ud_conllu(shared_data, tmp_path):
    documents, rejected, counted = read_all(
        [str(shared_data / "lihkg" / "test.tsv"), str(shared_data / "ud_hk" / "yue_hk-ud-test.conllu")], tmp_path
    )
    lihkg = documents[documents["source"] == "test.tsv"]
    ud = documents[documents["source"] == "yue_hk-ud-test.conllu"]
    assert len(lihkg) == 1000 and len(ud) == 1004 and not rejected and counted == 2004
    assert lihkg["id"].iloc[0] == "test.tsv:2"  # line 1 is the header
    assert lihkg["label"].iloc[0] == "25" and lihkg["text"].iloc[0]  # LIHKG's text_a column, read as text
    assert ud["sent_id"].iloc[0]


def test_parquet_and_folders(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    pd.DataFrame({"text": ["第一篇", "第二篇"], "year": [2019, 2020]}).to_parquet(data / "sub" / "a.parquet")
    (data / "b.txt").write_text("一行\n\n兩行\n", encoding="utf-8")
    documents, _, _ = read_all([str(data)], tmp_path)
    assert sorted(documents["id"]) == ["data/b.txt:1", "data/b.txt:3", "data/sub/a.parquet:1", "data/sub/a.parquet:2"]


def test_packaged_corpora(tmp_path):
    documents, rejected, counted = read_all(["pycantonese:common_voice", "pycantonese:hkcancor"], tmp_path)
    cv = documents[documents["source"] == "pycantonese:common_voice"]
    hk = documents[documents["source"] == "pycantonese:hkcancor"]
    assert len(cv) > 9000 and len(hk) == 58
    assert hk["id"].str.startswith("pycantonese:hkcancor:FC-").all()
    assert counted == len(documents) + len(rejected)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(alphabet="佢哋好ab\"{}\\\n", max_size=30), min_size=1, max_size=40),
       st.integers(min_value=8, max_value=200))
def test_reading_in_byte_ranges_gives_the_same_documents_as_reading_whole(tmp_path_factory, texts, split_bytes):
    tmp = tmp_path_factory.mktemp("split")
    path = tmp / "x.jsonl"
    path.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    whole = read_all([str(path)], tmp / "whole")
    split = read_all([str(path)], tmp / "split", split_bytes=split_bytes)
    assert sorted(whole[0]["id"]) == sorted(split[0]["id"])
    assert sorted(r["id"] for r in whole[1]) == sorted(r["id"] for r in split[1])
    assert whole[2] == split[2] == len(texts)


def test_a_users_records_round_trip(tmp_path):
    """The user's id and every other field come back as columns; an id is made only where a record has none; a
    field whose type changes between records comes back as JSON text rather than failing the batch."""
    lines = [{"id": "post-1", "text": "佢哋喺度", "thread": 7, "tags": ["a", "b"]},
             {"text": "我哋去飲茶", "thread": 8, "tags": ["c"]},
             {"id": "post-3", "text": "好耐冇見", "thread": "nine"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), "utf-8")
    documents, rejected, _ = read_all([str(tmp_path / "in.jsonl")], tmp_path)
    assert not rejected
    assert documents["id"].tolist() == ["post-1", "in.jsonl:2", "post-3"]
    assert documents["tags"].tolist() == [["a", "b"], ["c"], None]
    assert documents["thread"].tolist() == ["7", "8", "nine"]  # mixed int and text: JSON text
    assert documents["_key"].tolist() == ["in.jsonl:1", "in.jsonl:2", "in.jsonl:3"]  # unique, for the dedup steps
    assert documents["source"].tolist() == ["in.jsonl"] * 3


def test_a_read_reject_keeps_the_whole_record(tmp_path):
    record = {"id": 12345, "text": 12345, "author": "小明"}
    (tmp_path / "in.jsonl").write_text(json.dumps(record, ensure_ascii=False) + "\n" + '{"id": "e", "text": "  "}\n',
                                       encoding="utf-8")
    _, rejected, _ = read_all([str(tmp_path / "in.jsonl")], tmp_path)
    by_id = {r["id"]: r for r in rejected}
    assert by_id[12345]["reason"] == "non_string_text" and by_id[12345]["author"] == "小明"
    assert json.loads(by_id[12345]["raw"]) == record
    assert by_id["e"]["reason"] == "empty_text" and json.loads(by_id["e"]["raw"]) == {"id": "e", "text": "  "}


def test_inputs_that_used_to_stop_a_run(tmp_path):
    import gzip

    good = [json.dumps({"text": f"我哋今日去咗飲茶第{i}次"}, ensure_ascii=False) for i in range(40)]
    whole = gzip.compress(("\n".join(good) + "\n").encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])  # a broken download
    (tmp_path / "deep.jsonl").write_text("[" * 100_000 + "\n" + json.dumps({"text": "之後嗰行"}) + "\n")
    (tmp_path / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "bom.jsonl").write_bytes("\ufeff".encode() + json.dumps({"text": "有BOM"}).encode() + b"\n")
    (tmp_path / "empty.jsonl").write_bytes(b"")
    documents, rejected, counted = read_all([str(tmp_path)], tmp_path / "out")
    by_reason = {}
    for r in rejected:
        by_reason.setdefault(r["reason"], []).append(r)
    (cut,) = by_reason["truncated_file"]
    assert "cut.jsonl.gz: compressed data ends early after line" in cut["detail"]
    kept_from_cut = documents[documents["source"] == f"{tmp_path.name}/cut.jsonl.gz"]
    assert 0 < len(kept_from_cut) < 40 and cut["line"] == len(kept_from_cut) + 1  # what came before is kept
    assert [r["detail"] for r in by_reason["invalid_json"]] == [f"{tmp_path.name}/deep.jsonl line 1: nested too "
                                                                "deeply to parse"]
    assert "之後嗰行" in documents["text"].tolist() and "有BOM" in documents["text"].tolist()
    assert all(r["source"].endswith("binary.txt") for r in by_reason["invalid_encoding"] + by_reason["nul_bytes"])
    assert counted == len(documents) + len(rejected)


def test_other_encodings_are_read_when_named_and_hinted_when_not(tmp_path):
    lines = ["我哋喺香港食緊嘢，今日好熱呀", "佢話聽日唔得閒"]
    (tmp_path / "big5.txt").write_bytes(("\n".join(lines) + "\n").encode("big5hkscs"))
    _, rejected, _ = read_all([str(tmp_path / "big5.txt")], tmp_path / "a")
    assert {r["reason"] for r in rejected} == {"invalid_encoding"}
    assert all("it reads as big5hkscs: pass encoding=big5hkscs" in r["detail"] for r in rejected)
    documents, rejected, _ = read_all([str(tmp_path / "big5.txt")], tmp_path / "b", encoding="big5hkscs")
    assert documents["text"].tolist() == lines and not rejected
    (tmp_path / "gb.txt").write_bytes("我们在香港吃饭，今天很热\n".encode("gb18030"))
    _, rejected, _ = read_all([str(tmp_path / "gb.txt")], tmp_path / "c")
    assert "pass encoding=gb18030" in rejected[0]["detail"]


def test_a_partition_with_nothing_readable_passes_no_batch_on(tmp_path):
    (tmp_path / "bad.jsonl").write_text("{broken\n")
    (task,) = InputPartitioner([str(tmp_path / "bad.jsonl")]).process(EmptyTask())
    task.task_id = "t0"
    assert RecordReader(rejects_path=str(tmp_path / "r"), counts_path=str(tmp_path / "c")).process(task) == []


def test_a_packaged_corpus_is_read_in_record_ranges_with_the_same_documents(tmp_path, monkeypatch):
    from canto_nemo.curator_stages import readers

    whole = read_all(["pycantonese:hkcancor"], tmp_path / "whole")
    monkeypatch.setattr(readers, "CORPUS_RECORDS", 10)
    assert len(InputPartitioner(["pycantonese:hkcancor"]).process(EmptyTask())) == 6  # 58 conversations
    split = read_all(["pycantonese:hkcancor"], tmp_path / "split")
    assert whole[0]["id"].tolist() == split[0]["id"].tolist() and len(split[0]) == split[2] == whole[2] == 58
    assert whole[0]["text"].tolist() == split[0]["text"].tolist()


def test_a_json_array_is_read_as_records_each_with_its_index_as_its_line(tmp_path):
    """The shape many datasets ship (and pandas.read_json and datasets read): one JSON array, here pretty-printed with
    a BOM; bad elements are `read` rejects naming the file and the index, the others are documents."""
    records = [{"id": "q1", "text": "佢哋喺度食緊飯", "answer": "C"}, {"text": "我哋去飲茶"}, 7, {"title": "冇text"},
               {"text": "好耐冇見", "tags": ["a"]}]
    body = json.dumps(records, ensure_ascii=False, indent=2)
    (tmp_path / "items.json").write_bytes("\ufeff".encode() + body.encode())
    documents, rejected, counted = read_all([str(tmp_path / "items.json")], tmp_path / "out")
    assert documents["id"].tolist() == ["q1", "items.json:1", "items.json:4"]
    assert documents["line"].tolist() == [0, 1, 4] and documents["answer"].tolist()[0] == "C"
    assert {r["line"]: r["reason"] for r in rejected} == {2: "invalid_json", 3: "missing_text"}
    assert all(r["stage"] == "read" and f"items.json index {r['line']}" in r["detail"] for r in rejected)
    assert "fields: title" in rejected[1]["detail"] and json.loads(rejected[1]["raw"]) == {"title": "冇text"}
    assert counted == len(documents) + len(rejected) == 5


def test_a_broken_json_array_keeps_the_elements_before_the_break(tmp_path):
    (tmp_path / "cut.json").write_text('[{"text": "第一"}, {"text": "第二"}, {"text": "第三', encoding="utf-8")
    (tmp_path / "bad.json").write_text('[{"text": "第一"}, {"text": "第二" oops}, {"text": "第三"}]', encoding="utf-8")
    documents, rejected, counted = read_all([str(tmp_path / "cut.json"), str(tmp_path / "bad.json")], tmp_path / "o")
    assert documents["text"].tolist() == ["第一", "第二", "第一"]
    by_source = {r["source"]: r for r in rejected}
    assert by_source["cut.json"]["line"] == 2 and "cut.json index 2" in by_source["cut.json"]["detail"]
    assert by_source["bad.json"]["line"] == 1 and by_source["bad.json"]["raw"].endswith('{"text": "第三"}]')
    assert counted == len(documents) + len(rejected) == 5


def test_a_json_object_holding_records_under_a_key_is_one_reject_naming_its_keys(tmp_path):
    squad = {"version": "1.1", "data": [{"text": "佢哋喺度食緊飯"}, {"text": "我哋去飲茶"}]}
    (tmp_path / "pretty.json").write_text(json.dumps(squad, ensure_ascii=False, indent=2), encoding="utf-8")
    (tmp_path / "one_line.json").write_text(json.dumps(squad, ensure_ascii=False) + "\n", encoding="utf-8")
    documents, rejected, counted = read_all([str(tmp_path)], tmp_path / "out")
    assert documents.empty and counted == len(rejected) == 2
    pretty, one_line = sorted(rejected, key=lambda r: r["source"], reverse=True)
    assert pretty["reason"] == "invalid_json" and "keys version, data" in pretty["detail"]
    assert "the list under 'data'" in pretty["detail"] and json.loads(pretty["raw"]) == squad
    assert one_line["reason"] == "missing_text" and "fields: version, data" in one_line["detail"]


def test_json_lines_named_json_are_read_by_line_as_before(tmp_path):
    """`datasets`' to_json writes JSON Lines under .json: still one record a line, a broken first line included."""
    lines = ['{"text": "broken', '{"text": "佢哋喺度"}', "", '{"text": "我哋去飲茶", "n": 2}']
    (tmp_path / "lines.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    documents, rejected, counted = read_all([str(tmp_path / "lines.json")], tmp_path / "out")
    assert documents["id"].tolist() == ["lines.json:2", "lines.json:4"]
    assert [(r["line"], r["reason"]) for r in rejected] == [(1, "invalid_json")]
    assert counted == 3


def test_small_files_share_a_task_and_are_read_counted_and_batched_as_alone(tmp_path):
    """Grouping changes how many tasks there are, nothing that is read: the same documents in the same order, no batch
    mixing two files (they may disagree in their fields), a count per file, the rejects of every file."""
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(9):
        lines = [json.dumps({"text": f"第{i}個檔案第{j}行", f"field_{i % 2}": j}, ensure_ascii=False) for j in range(5)]
        (folder / f"f{i}.jsonl").write_text("\n".join([*lines, "{broken"]) + "\n", encoding="utf-8")
    size = (folder / "f0.jsonl").stat().st_size
    assert len(InputPartitioner([str(folder)], group_bytes=0).process(EmptyTask())) == 9
    grouped = InputPartitioner([str(folder)], group_bytes=3 * size).process(EmptyTask())
    assert [len(task.data) for task in grouped] == [3, 3, 3]
    assert len({task.get_deterministic_id() for task in grouped}) == 3
    reader = RecordReader(records_per_batch=4)
    batches = [batch.to_pandas() for batch in reader.process(grouped[0])]
    assert [len(b) for b in batches] == [4, 1, 4, 1, 4, 1]  # each file batched on its own
    assert all(b["source"].nunique() == 1 for b in batches)
    alone = read_all([str(folder)], tmp_path / "alone", group_bytes=0)
    together = read_all([str(folder)], tmp_path / "together", group_bytes=3 * size)
    assert alone[0].fillna(-1).equals(together[0].fillna(-1)) and len(together[0]) == 45
    assert sorted(r["detail"] for r in alone[1]) == sorted(r["detail"] for r in together[1]) and len(alone[1]) == 9
    assert alone[2] == together[2] == 54
    assert len(list((tmp_path / "together" / "counts").glob("*.json"))) == 9


def test_by_default_the_groups_are_sized_to_the_cluster(tmp_path):
    from canto_nemo.curator_stages.readers import group_partitions, partitions

    for i in range(40):
        (tmp_path / f"f{i:02d}.jsonl").write_text(json.dumps({"text": "字" * 100}) + "\n", encoding="utf-8")
    (tmp_path / "big.jsonl").write_text(json.dumps({"text": "字" * 10_000}) + "\n", encoding="utf-8")
    tasks = InputPartitioner([str(tmp_path)]).process(EmptyTask())  # no Ray here: this machine's CPUs
    import os

    assert len(tasks) <= 8 * (os.cpu_count() or 1) + 1 < 41
    assert any(task.data == [str(tmp_path / "big.jsonl")] for task in tasks)  # the big file alone
    parts = partitions(["pycantonese:hkcancor"])
    assert group_partitions(parts, 10**9) == [[part] for part in parts]  # a packaged corpus's ranges stay apart


def test_a_corpus_of_fewer_files_than_cpus_is_cut_into_a_range_per_cpu(tmp_path, monkeypatch):
    """One 1.2 MB file on four CPUs: four ranges, not one task that the other three CPUs wait for, with the same
    documents and counts as read whole; cut no finer than MIN_SPLIT_BYTES per range."""
    from canto_nemo.curator_stages import readers

    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps({"text": f"第{i}篇" + "字" * 400}, ensure_ascii=False) + "\n"
                            for i in range(1000)), encoding="utf-8")
    monkeypatch.setattr(readers, "_cluster_cpus", lambda: 1)
    assert len(InputPartitioner([str(path)]).process(EmptyTask())) == 1
    whole = read_all([str(path)], tmp_path / "whole")
    monkeypatch.setattr(readers, "_cluster_cpus", lambda: 4)
    assert len(InputPartitioner([str(path)]).process(EmptyTask())) == 4
    cut = read_all([str(path)], tmp_path / "cut")
    assert whole[0]["id"].tolist() == cut[0]["id"].tolist() and len(cut[0]) == 1000
    assert whole[2] == cut[2] == 1000
    assert len(list((tmp_path / "cut" / "counts").glob("*.json"))) == 4
    monkeypatch.setattr(readers, "_cluster_cpus", lambda: 64)  # 64 ranges would be under 256 KiB each
    assert len(InputPartitioner([str(path)]).process(EmptyTask())) == 5


def test_pass_twos_parquet_files_share_tasks_only_with_the_same_columns(tmp_path, monkeypatch):
    """Twelve small Parquet files, the fifth and sixth with a field the others lack: grouped into fewer tasks, the two
    odd ones never with the others (the reader would give the others' records that field as nulls); read through
    NeMo Curator's ParquetReaderStage, the same records and fields as read one file per task."""
    from nemo_curator.stages.text.io.reader.parquet import ParquetReaderStage

    from canto_nemo.curator_stages import readers

    monkeypatch.setattr(readers, "_cluster_cpus", lambda: 1)
    paths = []
    for i in range(12):
        frame = pd.DataFrame({"id": [f"{i}-{j}" for j in range(50)],
                              "text": [f"第{i}篇第{j}段" * 20 for j in range(50)]})
        if i in (4, 5):
            frame["thread"] = [str(j) for j in range(50)]
        paths.append(str(tmp_path / f"part{i:02d}.parquet"))
        frame.to_parquet(paths[-1], index=False)
    tasks = readers.ParquetGroups(paths).process(EmptyTask())
    assert 3 <= len(tasks) < 12
    assert [task.data for task in tasks if paths[4] in task.data] == [[paths[4], paths[5]]]
    assert [p for task in tasks for p in task.data] == paths  # in order, each once
    assert all(task._metadata["source_files"] == task.data for task in tasks)  # the writers name files from them
    reader = ParquetReaderStage()
    grouped = pd.concat([reader.process(task).to_pandas() for task in tasks], ignore_index=True)
    alone = pd.concat([reader.process(FileGroupTask(dataset_name="x", data=[p])).to_pandas() for p in paths],
                      ignore_index=True)
    assert grouped.equals(alone) and len(grouped) == 600
    assert grouped["thread"].notna().sum() == 100

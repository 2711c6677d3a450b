import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nemo_curator.tasks import EmptyTask

from canto_nemo.curator_stages.readers import InputPartitioner, RecordReader, expand_inputs


def read_all(paths: list[str], tmp_path: Path, split_bytes: int = 256 * 1024 * 1024, text_field: str = "text"):
    """Runs both reader stages directly; returns (documents, rejects, total records counted)."""
    rejects, counts = tmp_path / "rejects", tmp_path / "counts"
    reader = RecordReader(text_field=text_field, batch_size=7, rejects_path=str(rejects), counts_path=str(counts))
    docs = []
    for i, task in enumerate(InputPartitioner(paths, split_bytes=split_bytes).process(EmptyTask())):
        task.task_id = f"t{i}"
        for batch in reader.process(task):
            docs.append(batch.to_pandas())
    documents = pd.concat(docs, ignore_index=True)
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
    assert json.loads(documents["meta"][0]) == {"url": "https://lihkg.com/1"}
    assert len(documents["text"][1]) == 3_500_000
    reasons = {r["line"]: r["reason"] for r in rejected}
    assert reasons == {2: "invalid_json", 3: "invalid_utf8", 4: "missing_text", 5: "non_string_text",
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
    assert json.loads(lihkg["meta"].iloc[0]) == {"label": "25"}
    assert json.loads(ud["meta"].iloc[0])["sent_id"]


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

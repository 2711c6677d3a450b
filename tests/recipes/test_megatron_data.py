"""recipes.megatron_data: real LIHKG posts -> .bin/.idx with megatron-core, read back with its own readers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from canto_nemo.recipes import megatron_data as md
from canto_nemo.recipes import tokenizer as tok

QUIET = {"progress": lambda s: None}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, lihkg_posts) -> Path:
    """Curated-style output: two JSONL files of real posts (one with unreadable records) under curated/."""
    root = tmp_path_factory.mktemp("curation")
    (root / "curated").mkdir()
    half = len(lihkg_posts) // 2
    for name, posts in (("a.jsonl", lihkg_posts[:half]), ("b.jsonl", lihkg_posts[half:])):
        with (root / "curated" / name).open("w", encoding="utf-8") as f:
            for n, text in enumerate(posts):
                f.write(json.dumps({"id": f"{name}:{n}", "text": text}, ensure_ascii=False) + "\n")
    with (root / "curated" / "b.jsonl").open("a", encoding="utf-8") as f:
        f.write("{not json\n")
        f.write(json.dumps({"id": "no-text"}) + "\n")
    (root / "rejects").mkdir()  # must never be read
    reject = json.dumps({"id": "r", "text": "被拒絕嘅文件"}, ensure_ascii=False)
    (root / "rejects" / "r.jsonl").write_text(reject + "\n")
    return root


@pytest.fixture(scope="module")
def tokenizer_dir(corpus, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("tok") / "tok"
    tok.train(str(corpus), str(out), vocab_size=4000, **QUIET)
    return str(out)


@pytest.fixture(scope="module")
def built(corpus, tokenizer_dir, tmp_path_factory) -> dict:
    """The same corpus written with one and with two workers, in small parts so that shards get merged."""
    out = {}
    for workers in (1, 2):
        prefix = str(tmp_path_factory.mktemp(f"w{workers}") / "canto")
        manifest = md.build(str(corpus), tokenizer_dir, prefix, workers=workers, split_bytes=64 * 1024,
                            validation_fraction=0.05, **QUIET)
        out[workers] = (prefix, manifest)
    return out


def expected_documents(corpus: Path, tokenizer_dir: str, fraction: float) -> dict[str, list[list[int]]]:
    from canto_nemo.curator_stages.corpus import documents

    t, info = tok.resolve(tokenizer_dir)
    eod = tok.eod_id(t, info)
    docs = {split: [] for split in md.SPLITS}
    for doc_id, text in documents(str(corpus)):
        docs[md.split_of(doc_id, fraction)].append([*t.encode(text, add_special_tokens=False).ids, eod])
    return docs


def test_every_document_reads_back_exactly(built, corpus, tokenizer_dir):
    prefix, manifest = built[2]
    expected = expected_documents(corpus, tokenizer_dir, 0.05)
    for split in md.SPLITS:
        dataset = md.read_back(md.dataset_prefix(prefix, split))
        assert len(dataset) == len(expected[split]) == manifest["splits"][split]["documents"]
        for i, doc in enumerate(expected[split]):
            assert dataset[i].tolist() == doc
        assert manifest["splits"][split]["tokens"] == sum(len(d) for d in expected[split])
    assert manifest["skipped_records"] == 2  # the bad JSON line and the record without text, not silently
    assert len(expected["validation"]) > 0 and len(expected["train"]) > 10 * len(expected["validation"])


def test_workers_do_not_change_the_result(built):
    (one, _), (two, m2) = built[1], built[2]
    assert m2["workers"] == 2
    for split in md.SPLITS:
        for ext in (".bin", ".idx"):
            a = Path(md.dataset_prefix(one, split) + ext).read_bytes()
            assert a == Path(md.dataset_prefix(two, split) + ext).read_bytes()


def test_gpt_dataset_reads_the_tokens(built, tmp_path):
    """megatron-core's GPTDataset (what NeMo trains from) yields windows of the documents in its own order."""
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from megatron.core.datasets.utils import Split

    from canto_nemo.recipes.smoke_train import PretokenizedTokenizer

    prefix, manifest = built[1]
    train_prefix = md.dataset_prefix(prefix, "train")
    indexed = IndexedDataset(train_prefix)
    seq = 32
    config = GPTDatasetConfig(random_seed=7, sequence_length=seq, blend=None, split="1,0,0",
                              tokenizer=PretokenizedTokenizer(manifest["vocab_size"], manifest["eod_id"]),
                              reset_position_ids=False, reset_attention_mask=False, eod_mask_loss=False,
                              path_to_cache=str(tmp_path))
    dataset = GPTDataset(indexed, train_prefix, np.arange(len(indexed), dtype=np.int32), 200, Split.train, config)
    stream = np.concatenate([indexed[int(d)] for d in dataset.document_index])
    for i in range(len(dataset)):
        sample = dataset[i]
        position = int(dataset.shuffle_index[i]) * seq
        window = stream[position : position + seq + 1]
        assert sample["tokens"].tolist() == window[:-1].tolist()
        assert sample["labels"].tolist() == window[1:].tolist()


def test_blend_and_manifest(built, tokenizer_dir):
    prefix, manifest = built[2]
    blend = json.loads(Path(f"{prefix}_blend.json").read_text())
    assert blend["train"] == [md.dataset_prefix(prefix, "train")]
    assert blend["validation"] == blend["test"] == [md.dataset_prefix(prefix, "validation")]
    meta = json.loads((Path(tokenizer_dir) / "canto_tokenizer.json").read_text())
    assert manifest["eod_id"] == meta["eod_id"] and manifest["padded_vocab_size"] == meta["padded_vocab_size"]
    assert manifest["max_token_id"] < manifest["vocab_size"] and manifest["dtype"] == "uint16"
    assert json.loads(Path(f"{prefix}_manifest.json").read_text()) == manifest


def test_nemo_pretraining_datamodule_accepts_the_blend(built):
    from nemo.collections.llm.gpt.data.pre_training import validate_dataset_asset_accessibility

    prefix, _ = built[2]
    blend = json.loads(Path(f"{prefix}_blend.json").read_text())
    validate_dataset_asset_accessibility(blend)  # raises if a prefix lacks its .bin/.idx
    Path(md.dataset_prefix(prefix, "validation") + ".idx").rename(Path(prefix + "_moved.idx"))
    try:
        with pytest.raises(FileNotFoundError):
            validate_dataset_asset_accessibility(blend)
    finally:
        Path(prefix + "_moved.idx").rename(Path(md.dataset_prefix(prefix, "validation") + ".idx"))


def test_split_depends_on_the_id_only():
    ids = [f"doc:{i}" for i in range(20_000)]
    splits = [md.split_of(i, 0.01) for i in ids]
    assert splits == [md.split_of(i, 0.01) for i in ids]
    assert 120 < splits.count("validation") < 280


def test_bad_input_fails_clearly(tmp_path, tokenizer_dir, corpus):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "part.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no documents"):
        md.build(str(empty), tokenizer_dir, str(tmp_path / "o" / "x"), workers=1, **QUIET)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        md.build(str(tmp_path / "missing"), tokenizer_dir, str(tmp_path / "o" / "x"), **QUIET)
    with pytest.raises(FileNotFoundError, match="no tokenizer at"):
        md.build(str(corpus), str(tmp_path / "no-tokenizer"), str(tmp_path / "o" / "x"), **QUIET)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(PermissionError, match="cannot write into"):
        md.build(str(corpus), tokenizer_dir, str(blocker / "sub" / "x"), **QUIET)
    with pytest.raises(ValueError, match="validation split"):
        md.build(str(corpus), tokenizer_dir, str(tmp_path / "o" / "y"), validation_fraction=1e-9, workers=1, **QUIET)


def test_existing_datasets_are_refused_unless_overwrite(tmp_path, tokenizer_dir, corpus):
    prefix = str(tmp_path / "data" / "canto")
    md.build(str(corpus), tokenizer_dir, prefix, workers=1, validation_fraction=0.05, **QUIET)
    before = Path(f"{prefix}_train_text_document.bin").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=true"):
        md.build(str(corpus), tokenizer_dir, prefix, workers=1, validation_fraction=0.05, **QUIET)
    assert Path(f"{prefix}_train_text_document.bin").read_bytes() == before
    md.build(str(corpus), tokenizer_dir, prefix, workers=1, validation_fraction=0.05, overwrite=True, **QUIET)
    assert Path(f"{prefix}_train_text_document.bin").read_bytes() == before

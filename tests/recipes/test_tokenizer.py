"""recipes.tokenizer: training from scratch, extending Qwen2.5 with merges, fertility; on real Cantonese text."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from canto_nemo.recipes import bpe
from canto_nemo.recipes import tokenizer as tok

CODE_SWITCHED = "我聽朝要submit個report，deadline係Friday 5pm😂"
EXT_B = "𠮶個人喺𨋢度等緊，佢話𠵱家冇嘢做"  # Extension-B characters: 𠮶 𨋢 𠵱
REAL = [
    "佢哋琴日去咗銅鑼灣食飯，啲嘢幾好食㗎。",
    "塞車塞到好攰，老豆話今晚落雨，搵工真係大鑊。",
    CODE_SWITCHED,
    EXT_B,
    "The Legislative Council met on Wednesday.",
    "立法會今日舉行會議，討論財政預算案。",
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, lihkg_posts) -> Path:
    """Real LIHKG posts as curated-style JSONL (what `canto-nemo curate` writes)."""
    folder = tmp_path_factory.mktemp("corpus") / "curated"
    folder.mkdir()
    with (folder / "part.jsonl").open("w", encoding="utf-8") as f:
        for n, text in enumerate(lihkg_posts):
            f.write(json.dumps({"id": f"lihkg:{n}", "text": text}, ensure_ascii=False) + "\n")
    return folder.parent


@pytest.fixture(scope="module")
def extended(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ext") / "tok"
    tok.extend("qwen2.5", str(corpus), str(out), new_merges=1500, progress=lambda s: None)
    return out


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("trained") / "tok"
    tok.train(str(corpus), str(out), vocab_size=3000, progress=lambda s: None)
    return out


def test_bases_load_offline():
    qwen25, info = tok.resolve("qwen2.5")
    assert qwen25.get_vocab_size() == 151_665  # Qwen2.5: 151,643 BPE tokens + 22 special tokens
    assert info["eod"] == "<|endoftext|>" and qwen25.token_to_id("<|endoftext|>") == 151_643
    assert tok.load("qwen3").get_vocab_size() == 151_669
    with pytest.raises(FileNotFoundError, match="no tokenizer at /nonexistent"):
        tok.resolve("/nonexistent")


@pytest.mark.parametrize("which", ["extended", "trained"])
def test_round_trip_through_transformers(which, request, lihkg_posts):
    folder = request.getfixturevalue(which)
    hf = AutoTokenizer.from_pretrained(str(folder))
    for text in [*REAL, *lihkg_posts[:300]]:
        ids = hf.encode(text, add_special_tokens=False)
        assert hf.decode(ids) == text
    assert hf.eos_token == "<|endoftext|>"


def test_nemo_loads_the_folder(extended):
    from nemo.collections.common.tokenizers.huggingface.auto_tokenizer import AutoTokenizer as NemoAutoTokenizer

    nemo_tok = NemoAutoTokenizer(str(extended), use_fast=True)
    meta = json.loads((extended / "canto_tokenizer.json").read_text())
    assert nemo_tok.vocab_size == meta["vocab_size"]
    assert nemo_tok.eos_id == meta["eod_id"]
    assert nemo_tok.ids_to_text(nemo_tok.text_to_ids(EXT_B)) == EXT_B


def test_extension_keeps_base_ids_and_adds_contiguous_ones(extended):
    base = tok.load("qwen2.5")
    ext = tok.load(str(extended))
    base_vocab, ext_vocab = base.get_vocab(), ext.get_vocab()
    assert all(ext_vocab[token] == i for token, i in base_vocab.items())
    assert sorted(ext_vocab.values()) == list(range(len(ext_vocab)))  # no holes
    meta = json.loads((extended / "canto_tokenizer.json").read_text())
    assert meta["base_vocab_size"] == 151_665 and meta["vocab_size"] == len(ext_vocab)
    assert meta["padded_vocab_size"] % 128 == 0 and meta["padded_vocab_size"] >= meta["vocab_size"]
    rows = (extended / "added_tokens.tsv").read_text(encoding="utf-8").splitlines()
    assert len(rows) - 1 == meta["added_tokens"] == meta["vocab_size"] - 151_665
    first_id, _, kind, base_ids = rows[1].split("\t")
    assert int(first_id) == 151_665 and kind in ("character", "word") and base_ids


def test_cantonese_characters_get_their_own_token(extended, lihkg_posts):
    ext = tok.load(str(extended))
    base = tok.load("qwen2.5")
    for ch in "嘅咗喺嘢㗎𨋢𠵱𡃁":  # the last three are Extension B, from the lexicon
        assert len(ext.encode(ch, add_special_tokens=False).ids) == 1, ch
    assert len(base.encode("嘅", add_special_tokens=False).ids) > 1  # what the extension is for
    report = tok.fertility(ext, lihkg_posts[:500])
    assert report["fallback_chars"] == 0


def test_extension_never_costs_more_tokens_and_saves_on_cantonese(extended, lihkg_posts):
    ext = tok.load(str(extended))
    base = tok.load("qwen2.5")
    for text in [*REAL, *lihkg_posts[:500]]:
        assert len(ext.encode(text).ids) <= len(base.encode(text).ids), text
    cantonese = lihkg_posts[:500]
    assert tok.fertility(ext, cantonese)["tokens_per_char"] < 0.9 * tok.fertility(base, cantonese)["tokens_per_char"]


_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_TEXT = st.text(alphabet=st.one_of(_HAN, st.sampled_from(list("嘅咗喺嘢㗎𠮶𨋢佢哋啲 ，。!?abcXYZ019\n")),
                                   st.characters(codec="utf-8")), max_size=40)


@settings(max_examples=200, deadline=None)
@given(text=_TEXT)
def test_any_text_round_trips_and_never_grows(extended_cached, text):
    ext, base = extended_cached
    ids = ext.encode(text, add_special_tokens=False).ids
    assert ext.decode(ids, skip_special_tokens=False) == base.decode(base.encode(text, add_special_tokens=False).ids,
                                                                     skip_special_tokens=False)
    assert len(ids) <= len(base.encode(text, add_special_tokens=False).ids)


@pytest.fixture(scope="module")
def extended_cached(extended):
    return tok.load(str(extended)), tok.load("qwen2.5")


def test_trained_tokenizer_contract(trained):
    meta = json.loads((trained / "canto_tokenizer.json").read_text())
    t = tok.load(str(trained))
    assert meta["kind"] == "trained" and meta["vocab_size"] == t.get_vocab_size() <= 3000
    assert t.token_to_id("<|endoftext|>") == meta["eod_id"] == 0
    assert t.token_to_id("<|im_start|>") is not None
    assert meta["padded_vocab_size"] == 3072


def test_extension_is_deterministic(corpus, tmp_path):
    outs = []
    for name in ("a", "b"):
        tok.extend("qwen2.5", str(corpus), str(tmp_path / name), new_merges=200, lexicon_characters=False,
                   max_chars=50_000, progress=lambda s: None)
        outs.append((tmp_path / name / "tokenizer.json").read_bytes())
    assert outs[0] == outs[1]


def test_learn_merges_counts_pairs_like_bpe():
    words = [(list("abab"), 3), (list("ab"), 1), (list("cd"), 1)]
    merges = bpe.learn_merges([([bpe.to_symbols(c) for c in w], n) for w, n in words], max_merges=5, min_frequency=2)
    assert merges[0] == ("a", "b")  # 3*2 + 1 occurrences
    assert ("ab", "ab") in merges and ("c", "d") not in merges  # "cd" occurs once: below min_frequency


def test_learned_merges_are_whole_characters():
    # Two characters sharing their first two bytes: a merge of byte fragments would be the most frequent pair.
    word = [bpe.to_symbols("嘅")[:2], bpe.to_symbols("嘅")[2:], bpe.to_symbols("嘢")[:2], bpe.to_symbols("嘢")[2:]]
    merges = bpe.learn_merges([(word, 10)], max_merges=10)
    assert all(bpe.is_whole_characters(a + b) for a, b in merges)


def test_bad_input_fails_clearly(tmp_path, corpus):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "part.jsonl").write_text("")
    with pytest.raises(ValueError, match="no documents"):
        tok.train(str(empty), str(tmp_path / "o1"), vocab_size=1000, progress=lambda s: None)
    with pytest.raises(ValueError, match="no documents"):
        tok.extend("qwen2.5", str(empty), str(tmp_path / "o2"), progress=lambda s: None)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tok.train(str(tmp_path / "missing"), str(tmp_path / "o3"), progress=lambda s: None)
    with pytest.raises(FileNotFoundError, match="no-such-base"):
        tok.extend("no-such-base", str(corpus), str(tmp_path / "o4"), progress=lambda s: None)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x").write_text("x")
    with pytest.raises(FileExistsError, match="is not empty: choose another or pass overwrite=true"):
        tok.train(str(corpus), str(taken), progress=lambda s: None)
    with pytest.raises(OSError, match="cannot write into"):
        tok.train(str(corpus), str(tmp_path / "taken" / "x" / "out"), progress=lambda s: None)  # x is a file
    if os.geteuid() != 0:  # root may write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(PermissionError, match="cannot"):
            tok.train(str(corpus), str(locked / "out"), progress=lambda s: None)


def test_fertility_table(trained):
    rows, table = tok.fertility_table(["qwen2.5", str(trained)], REAL)
    assert [r["tokenizer"] for r in rows] == ["qwen2.5", str(trained)]
    assert all(0 < r["tokens_per_char"] < 3 and r["bytes_per_token"] > 0 for r in rows)
    assert rows[0]["fallback_chars"] > 0  # Qwen2.5 has no token for 嘅, 𠮶, ...
    assert table.startswith("| tokenizer |") and str(trained) in table

"""recipes.checkpoint: resizing a (tiny, random, real transformers) Qwen2 model to an extended tokenizer."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

from canto_nemo.recipes import checkpoint
from canto_nemo.recipes import tokenizer as tok


@pytest.fixture(scope="module")
def extended(tmp_path_factory, lihkg_posts):
    root = tmp_path_factory.mktemp("ext")
    corpus = root / "posts.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"p{i}", "text": t}, ensure_ascii=False) + "\n"
                              for i, t in enumerate(lihkg_posts)), encoding="utf-8")
    tok.extend("qwen2.5", str(corpus), str(root / "tok"), new_merges=200, lexicon_characters=False,
               progress=lambda s: None)
    return root / "tok"


@pytest.mark.parametrize("tied", [True, False])
def test_resize_keeps_base_rows_and_starts_new_ones_from_their_pieces(tmp_path, extended, tied):
    config = Qwen2Config(vocab_size=151_936, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=tied)
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(tmp_path / "base")
    info = checkpoint.resize_embeddings(str(tmp_path / "base"), str(extended), str(tmp_path / "out"),
                                        progress=lambda s: None)
    meta = json.loads((extended / "canto_tokenizer.json").read_text())
    base = AutoModelForCausalLM.from_pretrained(tmp_path / "base")
    new = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert info["rows_after"] == meta["padded_vocab_size"] == new.config.vocab_size
    matrices = [(base.get_input_embeddings().weight, new.get_input_embeddings().weight)]
    if not tied:
        matrices.append((base.get_output_embeddings().weight, new.get_output_embeddings().weight))
    rows = checkpoint.new_rows(str(extended))
    for old, resized in matrices:
        assert resized.shape[0] == meta["padded_vocab_size"]
        assert torch.equal(resized[: meta["base_vocab_size"]], old[: meta["base_vocab_size"]])
        for token_id, base_ids in list(rows.items())[:50]:
            assert torch.allclose(resized[token_id], old[base_ids].mean(dim=0))
    hf = AutoTokenizer.from_pretrained(tmp_path / "out")
    assert len(hf) == meta["vocab_size"] and hf.decode(hf.encode("佢哋喺度")) == "佢哋喺度"


def test_bad_inputs_are_named(tmp_path, extended):
    with pytest.raises(FileNotFoundError, match="no Hugging Face model"):
        checkpoint.resize_embeddings(str(tmp_path / "nothing"), str(extended), str(tmp_path / "o"))
    with pytest.raises(FileNotFoundError, match=r"canto_tokenizer\.json"):
        checkpoint.resize_embeddings(str(tmp_path), str(tmp_path), str(tmp_path / "o"))
    with pytest.raises(ValueError, match="one of"):
        checkpoint.import_to_nemo(str(tmp_path), "gpt5", str(tmp_path / "o"))

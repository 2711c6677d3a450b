"""recipes.smoke_train on real megatron-core: Cantonese utterances (HKCanCor), one character per token, written with
Megatron's own IndexedDatasetBuilder."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pycantonese
import pytest
from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

from canto_nemo.recipes.smoke_train import smoke_train

EOD = 0
KEYS = {
    "steps",
    "seq_length",
    "micro_batch_size",
    "parameters",
    "train_loss_first",
    "train_loss_last",
    "valid_ppl_before",
    "valid_ppl_after",
    "tokens_per_second",
    "seconds",
    "hf",  # None without a tokenizer: nothing to export
    "hf_export_max_logit_diff",
}
SMALL = {"seq_length": 64, "micro_batch_size": 8, "hidden_size": 64, "progress": lambda line: None}


def write_indexed(prefix: Path, docs: list[list[int]]) -> None:
    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=np.int32)
    for doc in docs:
        builder.add_document(np.array([*doc, EOD], dtype=np.int32), [len(doc) + 1])
    builder.finalize(f"{prefix}.idx")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict:
    """16k HKCanCor utterances, every tenth held out for validation; ids 1.. by character, 0 is EOD."""
    utterances = ["".join(words) for words in pycantonese.hkcancor().words(by_utterance=True)]
    utterances = [u for u in utterances if u]
    char_ids = {c: i for i, c in enumerate(sorted(set("".join(utterances))), start=1)}
    docs = [[char_ids[c] for c in u] for u in utterances]
    train = [d for i, d in enumerate(docs) if i % 10]
    valid = [d for i, d in enumerate(docs) if i % 10 == 0]
    folder = tmp_path_factory.mktemp("megatron_data")
    write_indexed(folder / "train", train)
    write_indexed(folder / "valid", valid)
    return {
        "train": str(folder / "train"),
        "valid": str(folder / "valid"),
        "vocab_size": len(char_ids) + 1,
        "train_docs": train,
        "valid_docs": valid,
    }


def unigram_ppl(corpus: dict) -> float:
    """Perplexity of the validation tokens under add-one unigram counts from the training tokens: a model that
    learnt only token frequencies, and no context, gets about this."""
    counts = np.ones(corpus["vocab_size"])
    for doc in corpus["train_docs"]:
        np.add.at(counts, [*doc, EOD], 1)
    logp = np.log(counts / counts.sum())
    valid = np.concatenate([[*doc, EOD] for doc in corpus["valid_docs"]])
    return math.exp(-logp[valid].mean())


def test_short_run_learns_and_reports(corpus, tmp_path):
    lines = []
    result = smoke_train(
        corpus["train"],
        corpus["valid"],
        corpus["vocab_size"],
        EOD,
        str(tmp_path),
        **{**SMALL, "progress": lines.append},
        steps=100,
        log_every=25,
    )
    assert set(result) == KEYS
    assert json.loads((tmp_path / "smoke_train.json").read_text(encoding="utf-8")) == result
    assert result["steps"] == 100 and result["seq_length"] == 64 and result["micro_batch_size"] == 8
    assert result["parameters"] > 0 and result["tokens_per_second"] > 0 and result["seconds"] > 0
    assert result["hf"] is None and result["hf_export_max_logit_diff"] is None  # no tokenizer given
    # An untrained model is about uniform over the vocabulary.
    assert result["valid_ppl_before"] > corpus["vocab_size"] / 2
    assert result["valid_ppl_after"] <= result["valid_ppl_before"] / 2
    # Beating frequencies alone means attention and positions carry information.
    assert result["valid_ppl_after"] < unigram_ppl(corpus)
    assert result["train_loss_last"] < result["train_loss_first"] - 2
    assert sum(line.startswith("step 25/100") for line in lines) == 1
    assert any("tokens/s" in line for line in lines)
    assert Path(tmp_path, "cache").is_dir()


def test_same_seed_same_losses(corpus, tmp_path):
    def run(folder: str) -> dict:
        result = smoke_train(
            corpus["train"], corpus["valid"], corpus["vocab_size"], EOD, str(tmp_path / folder), **SMALL, steps=6
        )
        return {k: v for k, v in result.items() if k not in {"tokens_per_second", "seconds"}}

    first, second = run("a"), run("b")
    assert first == second
    assert first["train_loss_last"] != first["train_loss_first"]


@pytest.mark.parametrize("suffix", [".idx", ".bin"])
def test_missing_file_is_named(corpus, tmp_path, suffix):
    prefix = tmp_path / "train"
    write_indexed(prefix, corpus["train_docs"][:200])
    Path(f"{prefix}{suffix}").unlink()
    with pytest.raises(FileNotFoundError, match=f"train{suffix}"):
        smoke_train(str(prefix), corpus["valid"], corpus["vocab_size"], EOD, str(tmp_path / "out"), **SMALL)


def test_token_ids_beyond_vocab_are_refused(corpus, tmp_path):
    with pytest.raises(ValueError, match="vocab_size"):
        smoke_train(corpus["train"], corpus["valid"], corpus["vocab_size"] - 1, EOD, str(tmp_path), **SMALL, steps=2)


def test_too_few_tokens_are_refused(corpus, tmp_path):
    prefix = tmp_path / "tiny"
    write_indexed(prefix, corpus["valid_docs"][:2])
    with pytest.raises(ValueError, match="too few"):
        smoke_train(corpus["train"], str(prefix), corpus["vocab_size"], EOD, str(tmp_path / "out"), **SMALL)

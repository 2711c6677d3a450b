"""recipes.blend: token counts from real .idx files, temperature shares, the epoch cap, and the shares megatron-core's
BlendedDataset actually draws from a written blend."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

from canto_nemo.recipes import blend as bl

QUIET = {"progress": lambda s: None}
EOD = 0


def _write(prefix: str, documents: int, length: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=np.uint16)
    for _ in range(documents):
        ids = np.append(rng.integers(1, 1000, size=length - 1), EOD).astype(np.uint16)
        builder.add_item(torch.from_numpy(ids))
        builder.end_document()
    builder.finalize(f"{prefix}.idx")


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("blend")
    sizes = {"big": (400, 50), "small": (100, 25)}  # 20,000 and 2,500 tokens
    prefixes = {}
    for i, (name, (docs, length)) in enumerate(sizes.items()):
        for split, n in (("train", docs), ("validation", 10)):
            _write(str(root / f"{name}_{split}_text_document"), n, length, seed=10 * i + len(split))
        prefixes[name] = str(root / f"{name}_train_text_document")
    return prefixes


def test_token_counts_come_from_the_idx(corpora):
    assert bl.corpus_tokens(corpora["big"]) == 400 * 50
    assert bl.corpus_tokens(corpora["small"]) == 100 * 25


def test_temperature_one_is_proportional_and_large_is_near_uniform(corpora):
    assert bl.temperature_shares([20_000, 2_500], 1.0) == pytest.approx([20 / 22.5, 2.5 / 22.5])
    assert bl.temperature_shares([20_000, 2_500], 1000.0) == pytest.approx([0.5, 0.5], abs=1e-3)
    rows = bl.plan([corpora["big"], corpora["small"]], 10_000, temperature=2.0)
    assert [r.share for r in rows] == pytest.approx([math.sqrt(8) / (math.sqrt(8) + 1), 1 / (math.sqrt(8) + 1)])
    assert rows[1].epochs == pytest.approx(rows[1].tokens / 2_500, rel=1e-3)
    assert rows[0].validation.endswith("big_validation_text_document")


def test_the_cap_refuses_with_the_number(corpora):
    with pytest.raises(bl.BlendError, match=r"small_train_text_document: 6,000 tokens of 2,500 is 2.40 epochs"):
        bl.plan([corpora["big"], corpora["small"]], 20_000, shares=[0.7, 0.3], max_epochs=2)
    assert bl.plan([corpora["big"], corpora["small"]], 20_000, shares=[0.7, 0.3])[1].epochs == pytest.approx(2.4)


def test_a_missing_prefix_is_named(tmp_path):
    with pytest.raises(bl.BlendError, match=r"nothere_train_text_document: no .*\.bin"):
        bl.plan([str(tmp_path / "nothere_train_text_document")], 100, temperature=1.0)


def test_blended_dataset_draws_the_table_shares(corpora, tmp_path):
    """The written paths, given to megatron-core's builder as NeMo's PreTrainingDataModule gives them."""
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from megatron.core.datasets.utils import get_blend_from_list

    from canto_nemo.recipes.smoke_train import PretokenizedTokenizer

    written = bl.blend([corpora["big"], corpora["small"]], 12_000, str(tmp_path / "blend.json"), temperature=3.0,
                       **QUIET)
    assert json.loads((tmp_path / "blend.json").read_text())["paths"] == written["paths"]
    assert "| small_train_text_document |" in (tmp_path / "blend.md").read_text()
    paths = bl.load_paths(str(tmp_path / "blend.json"))
    samples = 4000
    config = GPTDatasetConfig(random_seed=1234, sequence_length=16,
                              blend_per_split=[get_blend_from_list([str(x) for x in paths["train"]]), None, None],
                              tokenizer=PretokenizedTokenizer(1000, EOD), reset_position_ids=False,
                              reset_attention_mask=False, eod_mask_loss=False, mid_level_dataset_surplus=0.5)
    train, _, _ = BlendedMegatronDatasetBuilder(GPTDataset, [samples, None, None], lambda: True, config).build()
    drawn = np.bincount(np.asarray(train.dataset_index[:samples]), minlength=2) / samples
    for row, share in zip(written["corpora"], drawn, strict=True):
        sigma = math.sqrt(row["share"] * (1 - row["share"]) / samples)
        assert abs(share - row["share"]) < 4 * sigma, (row["prefix"], share, row["share"])
    assert {train[i]["dataset_id"] for i in range(50)} == {0, 1}

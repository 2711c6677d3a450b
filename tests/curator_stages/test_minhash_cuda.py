"""The MinHash kernel and the LSH verification on CUDA give what they give on CPU. These tests import only torch,
numpy and the project's Curator-free modules, so the GPU check runs them on the device's stock image; the text is
made here (the device has no ../shared/data)."""

import random

import numpy as np
import pytest
import torch

from canto_nemo.curator_stages.lsh import candidate_pairs, clusters, similar_pairs
from canto_nemo.curator_stages.minhash import MinHashConfig, band_keys, signatures

CONFIG = MinHashConfig(fold_variants=False)


def corpus(n: int = 600, seed: int = 0) -> list[str]:
    """Han and Latin text with planted near-duplicates (a copy with a few characters changed) and short texts."""
    rng = random.Random(seed)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
    texts = []
    for i in range(n):
        if i % 5 == 4:  # a near copy of the one before
            text = list(texts[-1])
            for _ in range(3):
                text[rng.randrange(len(text))] = rng.choice(han)
            texts.append("".join(text))
        else:
            length = rng.choice([1, 2, 40, 120, 400])
            texts.append("".join(rng.choice(han) if rng.random() < 0.85 else rng.choice("abcxyz019 ")
                                 for _ in range(length)))
    return texts


def test_integer_similarity_rule_is_the_mean_rule():
    texts = corpus()
    signature = signatures(texts, CONFIG)
    pairs = candidate_pairs(band_keys(signature, CONFIG).numpy())
    involved = np.unique(pairs)
    decided = similar_pairs(pairs, involved, signature[torch.as_tensor(involved)], CONFIG.threshold)
    agree = (signature[pairs[:, 0]] == signature[pairs[:, 1]]).double().mean(dim=1).numpy()
    assert decided.any() and (decided == (agree >= CONFIG.threshold)).all()


@pytest.mark.gpu
def test_cuda_and_cpu_give_identical_signatures():
    texts = corpus()
    assert torch.equal(signatures(texts, CONFIG, "cpu"), signatures(texts, CONFIG, "cuda"))


@pytest.mark.gpu
def test_cuda_and_cpu_verify_the_same_duplicates():
    texts = corpus()
    signature = signatures(texts, CONFIG)
    ids = np.asarray([f"doc{i:04d}" for i in range(len(texts))], dtype=object)
    pairs = candidate_pairs(band_keys(signature, CONFIG).numpy())
    involved = np.unique(pairs)
    on_cpu = clusters(ids, pairs, involved, signature[torch.as_tensor(involved)], CONFIG.threshold, "cpu")
    on_cuda = clusters(ids, pairs, involved, signature[torch.as_tensor(involved)], CONFIG.threshold, "cuda")
    assert len(on_cpu) >= 50  # the copies of the longer texts are found
    assert on_cpu.equals(on_cuda)

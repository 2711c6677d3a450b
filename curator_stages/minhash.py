"""MinHash signatures and LSH band keys over character n-grams, written once on torch: CUDA when asked, CPU otherwise,
with the same integers on both.

Shingle hashes are 31-bit (a polynomial modulo the prime 2^31 - 1, which never overflows int64). The permutations are
Dietzfelbinger's multiply-add-shift, h(x) = ((a*x + b) mod 2^64) >> 33 with random 64-bit a and b: a 2-independent
family for 31-bit keys that costs a multiply, an add and a shift, where `(a*x + b) mod p` costs an int64 division that
CPUs cannot vectorise (it was a third of the CPU time). torch's int64 multiply and add wrap modulo 2^64 on CPU and CUDA
alike (two's complement); a test checks the CPU against exact integer arithmetic and the `gpu` test CUDA against CPU.

Han text has no spaces to split words on, so shingles are character n-grams of a normalised form of the text: with
`fold_variants` the language pack folds spelling variants (for Chinese: Simplified and Traditional characters fold to
one script, so the same text in both is a duplicate), and
with `ignore_punctuation` punctuation, symbols and whitespace go (re-punctuated copies are duplicates).
"""

from __future__ import annotations

import random
import re
import warnings
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from canto_nemo.curator_stages.language_pack import LanguagePack, get_pack

# torch is imported where it is used: it takes a second, and the curation driver imports this module (for
# MinHashConfig) before its Ray head has started.
if TYPE_CHECKING:
    import torch

PRIME = (1 << 31) - 1
_LOW31 = (1 << 31) - 1  # minhashes are the top 31 bits of a 64-bit word, so they fit int32
_BASE = 1_000_003  # polynomial base for shingle hashes (a prime below PRIME)
_CHUNK = {"cpu": 16384, "cuda": 1 << 20}  # shingles per step: on CPU the block stays in cache; a GPU wants large steps


@dataclass
class MinHashConfig:
    """ngram: characters per shingle. bands x rows: LSH banding (num_perm = bands * rows); two documents become
    candidates when all rows of any band agree, which for Jaccard similarity s happens with probability
    1 - (1 - s^rows)^bands. threshold: candidates are kept as duplicates only when their signatures agree on at least
    this share of permutations (the MinHash estimate of Jaccard similarity)."""

    ngram: int = 3
    bands: int = 16
    rows: int = 8
    threshold: float = 0.7
    seed: int = 42
    fold_variants: bool = True
    ignore_punctuation: bool = True

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows


# Everything but letters and digits: punctuation, symbols, whitespace, controls.
_NOT_LETTER_OR_DIGIT = re.compile(r"[\W_]+")


def normalise_for_shingles(texts: list[str], config: MinHashConfig, pack: LanguagePack | str | None) -> list[str]:
    """The text that is shingled: spelling variants folded by the pack (when `fold_variants` and a pack is given),
    punctuation, symbols and whitespace removed (when `ignore_punctuation`)."""
    if config.fold_variants:
        if pack is None:
            msg = "fold_variants needs the language pack that knows the variants (pack=...), or fold_variants=False"
            raise ValueError(msg)
        texts = get_pack(pack).fold_variants(texts)
    if config.ignore_punctuation:
        texts = [_NOT_LETTER_OR_DIGIT.sub("", t) for t in texts]
    return texts


def shingles(texts: list[str], ngram: int, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(hash of every character n-gram of every text, index of its text), all texts at once, computed on `device`.
    A text shorter than n is padded to one shingle; repeated shingles stay (they cannot change a minimum)."""
    import torch
    padded = [t + "\0" * (ngram - len(t)) if len(t) < ngram else t for t in texts]
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    codes = torch.from_numpy(codes).to(device)
    lengths = torch.tensor([len(t) for t in padded], device=device)
    ends = torch.cumsum(lengths, 0)
    owner = torch.repeat_interleave(torch.arange(len(texts), device=device), lengths)
    windows = len(codes) - ngram + 1
    hashes = torch.zeros(windows, dtype=torch.int64, device=device)
    for k in range(ngram):
        hashes = (hashes * _BASE + codes[k : k + windows]) % PRIME
    owner = owner[:windows]
    inside = torch.arange(windows, device=device) + ngram <= ends[owner]  # the window does not run into the next text
    return hashes[inside], owner[inside]


@cache
def _permutations(num_perm: int, seed: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    import torch
    # Any 64-bit words: drawn as Python integers (torch.randint cannot span all of int64), stored two's complement.
    rng = random.Random(seed)
    words = [rng.getrandbits(64) for _ in range(2 * num_perm)]
    signed = torch.tensor([w - (1 << 64) if w >> 63 else w for w in words], dtype=torch.int64)
    return signed[:num_perm].to(device), signed[num_perm:].to(device)


def signatures(texts: list[str], config: MinHashConfig, device: str = "cpu", pack: LanguagePack | str | None = None
               ) -> torch.Tensor:
    """(len(texts), num_perm) int64 MinHash signatures; identical on CPU and CUDA."""
    import torch
    if not texts:
        return torch.empty((0, config.num_perm), dtype=torch.int64)
    hashes, owner = shingles(normalise_for_shingles(texts, config, pack), config.ngram, device)
    a, b = _permutations(config.num_perm, config.seed, device)
    result = torch.full((len(texts), config.num_perm), _LOW31, dtype=torch.int64, device=device)
    # One block for all steps: a fresh 16 MB tensor per step costs the kernel's page faults every time.
    chunk = _CHUNK["cuda" if str(device).startswith("cuda") else "cpu"]
    buffer = torch.empty((min(chunk, len(hashes)), config.num_perm), dtype=torch.int64, device=device)
    with warnings.catch_warnings():  # index_reduce_ is marked beta; it is the fastest segment-min torch has
        warnings.simplefilter("ignore", UserWarning)
        for start in range(0, len(hashes), chunk):
            block = buffer[: min(chunk, len(hashes) - start)]
            torch.mul(hashes[start : start + chunk, None], a, out=block)
            block.add_(b).bitwise_right_shift_(33).bitwise_and_(_LOW31)  # arithmetic shift: mask the sign copies
            result.index_reduce_(0, owner[start : start + chunk], block, "amin")
    return result.cpu()


def band_keys(signature: torch.Tensor, config: MinHashConfig) -> torch.Tensor:
    """(documents, bands) int64: one hash per band of `rows` minhashes."""
    import torch
    bands = signature.reshape(len(signature), config.bands, config.rows)
    keys = torch.zeros(bands.shape[:2], dtype=torch.int64)
    for row in range(config.rows):
        keys = (keys * _BASE + bands[:, :, row]) % PRIME
    return keys


def resolve_device(device: str) -> str:
    """auto: CUDA when torch sees a GPU, else CPU."""
    import torch
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        msg = "device=cuda was asked for, but torch sees no CUDA GPU here: use device=auto or device=cpu"
        raise ValueError(msg)
    if device not in ("cpu", "cuda"):
        msg = f"device must be auto, cpu or cuda, not {device!r}"
        raise ValueError(msg)
    return device

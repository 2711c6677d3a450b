import json
import random
import subprocess
import sys

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from canto_nemo.cantonese.variants import converter
from canto_nemo.curator_stages.columns import KEY
from canto_nemo.curator_stages.fuzzy_dedup import MinHashStage, find_fuzzy_duplicates
from canto_nemo.curator_stages.minhash import (
    MinHashConfig,
    _permutations,
    band_keys,
    normalise_for_shingles,
    shingles,
    signatures,
)

CONFIG = MinHashConfig()


def jaccard(a: str, b: str, config: MinHashConfig = CONFIG) -> float:
    def grams(t):
        (t,) = normalise_for_shingles([t], config, "cantonese")
        return {t[i : i + config.ngram] for i in range(max(1, len(t) - config.ngram + 1))}

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y)


ALPHABET = list("我哋你佢喺度食飯飲茶今日聽朝好正唔該啲嘢嘅咗𠮶𨋢，。！abc")
cantonese_text = st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(cantonese_text, st.lists(cantonese_text, max_size=5))
def test_identical_texts_always_collide(text, others):
    texts = [text, *others, text]
    sig = signatures(texts, CONFIG, pack="cantonese")
    assert torch.equal(sig[0], sig[-1])
    assert torch.equal(band_keys(sig, CONFIG)[0], band_keys(sig, CONFIG)[-1])


def test_shingles_stop_at_document_edges():
    hashes, owner = shingles(["ab", "abcdefg", "xyz"], 3)
    assert owner.tolist() == [0, 1, 1, 1, 1, 1, 2]
    assert len(hashes) == 7


def test_signatures_match_exact_integer_arithmetic():
    """The permutations rely on int64 wrapping modulo 2^64: checked against Python's unbounded integers."""
    texts = ["佢哋喺度食緊飯，你嚟唔嚟呀？", "我聽朝要submit個report", "落雨"]
    hashes, owner = shingles(normalise_for_shingles(texts, CONFIG, "cantonese"), CONFIG.ngram)
    a, b = _permutations(CONFIG.num_perm, CONFIG.seed, "cpu")
    pairs = list(zip(hashes.tolist(), owner.tolist(), strict=True))
    perms = list(zip(a.tolist(), b.tolist(), strict=True))
    expected = [[min(((ai * x + bi) % 2**64) >> 33 for x, o in pairs if o == doc) for ai, bi in perms]
                for doc in range(len(texts))]
    assert signatures(texts, CONFIG, pack="cantonese").tolist() == expected
    assert len({v for row in expected for v in row}) > 300  # not degenerate


def test_signatures_do_not_depend_on_the_batch():
    texts = ["佢哋喺度食緊飯，你嚟唔嚟呀？", "今日天氣好好", "我聽朝要submit個report"]
    together = signatures(texts, CONFIG, pack="cantonese")
    alone = torch.cat([signatures([t], CONFIG, pack="cantonese") for t in texts])
    assert torch.equal(together, alone)


def test_simplified_and_traditional_copies_are_duplicates_only_with_folding(lihkg_posts):
    post = next(p for p in lihkg_posts if len(p) > 200)
    simplified = converter("t2s").convert(post)
    assert jaccard(post, simplified) == 1.0
    assert jaccard(post, simplified, MinHashConfig(fold_variants=False)) < 0.7
    sig = signatures([post, simplified], CONFIG, pack="cantonese")
    assert torch.equal(sig[0], sig[1])
    unfolded = signatures([post, simplified], MinHashConfig(fold_variants=False), pack=None)
    assert (unfolded[0] == unfolded[1]).float().mean() < 0.7


def test_near_duplicates_found_and_unrelated_real_posts_left_alone(lihkg_posts, tmp_path, write_minhash_parts):
    originals = [p for p in lihkg_posts if len(p) > 150][:300]
    docs = [(f"post{i:03d}", p) for i, p in enumerate(originals)]
    docs += [("post000-copy", originals[0] + "\n多謝分享！"), ("post001-copy", originals[1].replace("，", ","))]
    found = find_fuzzy_duplicates(write_minhash_parts(tmp_path / "p", docs, 3), CONFIG)
    pairs = dict(zip(found[KEY], found["duplicate_of_key"], strict=True))
    assert pairs["post000-copy"] == "post000" and pairs["post001-copy"] == "post001"
    text = dict(docs)
    for duplicate, survivor in pairs.items():  # nothing flagged that is not really close
        assert jaccard(text[duplicate], text[survivor]) >= 0.5, (duplicate, survivor)


def test_result_is_independent_of_order_and_partitioning(lihkg_posts, tmp_path, write_minhash_parts):
    base = [p for p in lihkg_posts if len(p) > 150][:60]
    docs = [(f"d{i:03d}", p) for i, p in enumerate(base)]
    docs += [(f"e{i:03d}", p + "（轉載）") for i, p in enumerate(base[:20])]
    results = []
    for trial in range(3):
        shuffled = docs[:]
        random.Random(trial).shuffle(shuffled)
        found = find_fuzzy_duplicates(write_minhash_parts(tmp_path / f"t{trial}", shuffled, trial + 1), CONFIG)
        results.append(sorted(zip(found[KEY], found["duplicate_of_key"], strict=True)))
    assert results[0] == results[1] == results[2]
    assert {d for d, _ in results[0]} >= {f"e{i:03d}" for i in range(20)}


def test_dedup_command_accounts_for_every_document(tmp_path, lihkg_posts):
    posts = [p for p in lihkg_posts if len(p) > 150][:40]
    records = [{"text": p} for p in posts] + [{"text": posts[0]}, {"text": converter("t2s").convert(posts[1])},
                                              {"text": posts[2] + "！！"}]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                                       encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "canto_nemo.cli", "dedup", f"input={tmp_path}/in.jsonl",
                           f"output={tmp_path}/out", "device=cpu"], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    kept = [json.loads(line) for p in (tmp_path / "out" / "curated").glob("*.jsonl") for line in p.open()]
    removed = {json.loads(line)["id"]: json.loads(line) for p in (tmp_path / "out" / "rejects").glob("*.jsonl")
               for line in p.open()}
    assert len(kept) + len(removed) == len(records)
    assert removed["in.jsonl:41"]["reason"] == "exact_duplicate"
    assert removed["in.jsonl:41"]["duplicate_of"] == "in.jsonl:1"
    assert removed["in.jsonl:42"]["reason"] == "near_duplicate"
    assert removed["in.jsonl:42"]["duplicate_of"] == "in.jsonl:2"
    assert removed["in.jsonl:43"]["duplicate_of"] == "in.jsonl:3"
    assert not any(k.startswith("_") for record in kept for k in record)


def test_device_cuda_without_a_gpu_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        MinHashStage(CONFIG, pack="cantonese", device="cuda")

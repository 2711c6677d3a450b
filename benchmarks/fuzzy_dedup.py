"""Fuzzy dedup: quality on a seeded near-duplicate set built from real Cantonese, speed against datasketch and rensa
on the same data and parameters, and how cost grows from 10k to 1M documents.

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/fuzzy_dedup.py [--scale 10000,100000,1000000]

Quality: 700 LIHKG posts plus 700 edited copies (a sentence added or removed, punctuation changed, Simplified <->
Traditional, a boilerplate header or footer, light typos), seeded. Ground truth: every pair whose exact Jaccard
similarity, over the same shingles, is at least the threshold (all pairs compared). Found: every pair of documents in
one cluster. Speed: signatures + LSH candidates for the same texts, num_perm 128 (16 bands x 8 rows), 3-character
shingles of the same normalised text, one process. Scale: documents of CTCPC sentences recombined (seeded), each
size in a fresh process, wall time and peak resident memory. CUDA: only where torch sees a GPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import random
import resource
import subprocess
import sys
import time
from itertools import combinations
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIHKG = REPO.parent / "shared" / "data" / "lihkg"
HEADERS = ["【轉載】", "原文網址：見下", "#連登 #吹水台", "Sent from my iPhone", "（待續）"]


def lihkg_posts(min_chars: int = 120) -> list[str]:
    csv.field_size_limit(sys.maxsize)
    posts = []
    for name in ("test.tsv", "valid.tsv"):
        with (LIHKG / name).open(encoding="utf-8") as f:
            posts += [r["text_a"] for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return [p for p in posts if len(p) >= min_chars]


def edit(text: str, donor: str, rng: random.Random) -> str:
    """One realistic edit of a document."""
    from canto_nemo.cantonese.variants import converter

    sentences = [s for s in text.replace("。", "。\n").replace("！", "！\n").split("\n") if s]
    kind = rng.choice(["add", "remove", "punctuation", "script", "boilerplate", "typos"])
    if kind == "add":
        return text + rng.choice(donor.split("，") or [donor])
    if kind == "remove" and len(sentences) > 3:
        sentences.pop(rng.randrange(len(sentences)))
        return "".join(sentences)
    if kind == "punctuation":
        return text.replace("，", ", ").replace("。", ".").replace("？", "?")
    if kind == "script":
        return converter("t2s").convert(text)
    if kind == "boilerplate":
        return f"{rng.choice(HEADERS)}\n{text}\n{rng.choice(HEADERS)}"
    chars = list(text)
    for i in rng.sample(range(len(chars)), max(1, len(chars) // 60)):
        chars[i] = chr(rng.randint(0x4E00, 0x9FA5))
    return "".join(chars)


def near_duplicate_set(n: int = 700, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    originals = rng.sample(lihkg_posts(), n)
    copies = [edit(rng.choice(originals), rng.choice(originals), rng) for _ in range(n)]
    return originals + copies


def quality(texts: list[str], ngram: int, threshold: float) -> tuple[float, float, float]:
    import pandas as pd
    from nemo_curator.tasks import DocumentBatch

    from canto_nemo.curator_stages.fuzzy_dedup import MinHashStage, find_fuzzy_duplicates
    from canto_nemo.curator_stages.minhash import MinHashConfig, normalise_for_shingles

    config = MinHashConfig(ngram=ngram, threshold=threshold)
    normalised = normalise_for_shingles(texts, config, "cantonese")
    grams = [{t[i : i + ngram] for i in range(max(1, len(t) - ngram + 1))} for t in normalised]
    truth = {(i, j) for i, j in combinations(range(len(texts)), 2)
             if len(grams[i] & grams[j]) >= threshold * len(grams[i] | grams[j])}

    folder = Path("/tmp/canto-nemo-bench-fuzzy")
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    df = pd.DataFrame({"id": [f"{i:05d}" for i in range(len(texts))], "text": texts})
    stage = MinHashStage(config, pack="cantonese", device="cpu")
    stage.process(DocumentBatch(dataset_name="b", data=df)).to_pandas().to_parquet(
        folder / "part.parquet")
    found = find_fuzzy_duplicates(str(folder), config)
    clusters: dict[int, list[int]] = {}
    for duplicate, survivor in zip(found["id"], found["duplicate_of"], strict=True):
        clusters.setdefault(int(survivor), [int(survivor)]).append(int(duplicate))
    predicted = {tuple(sorted(p)) for members in clusters.values() for p in combinations(members, 2)}
    true_positive = len(predicted & truth)
    precision = true_positive / max(1, len(predicted))
    recall = true_positive / max(1, len(truth))
    return precision, recall, 2 * precision * recall / max(1e-9, precision + recall)


def ours(texts: list[str], device: str = "cpu") -> int:
    from canto_nemo.curator_stages.lsh import candidate_pairs
    from canto_nemo.curator_stages.minhash import MinHashConfig, band_keys, signatures

    config = MinHashConfig()
    signature = signatures(texts, config, device, "cantonese")
    return len(candidate_pairs(band_keys(signature, config).numpy()))


def token_sets(texts: list[str]) -> list[list[str]]:
    from canto_nemo.curator_stages.minhash import MinHashConfig, normalise_for_shingles

    normalised = normalise_for_shingles(texts, MinHashConfig(), "cantonese")
    return [[t[i : i + 3] for i in range(max(1, len(t) - 2))] for t in normalised]


def datasketch(texts: list[str]) -> int:
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=128, params=(16, 8))
    hashes = []
    for i, tokens in enumerate(token_sets(texts)):
        minhash = MinHash(num_perm=128, seed=42)
        minhash.update_batch([t.encode("utf-8") for t in tokens])
        lsh.insert(str(i), minhash)
        hashes.append(minhash)
    return sum(len(lsh.query(m)) - 1 for m in hashes)


def rensa(texts: list[str]) -> int:
    import rensa as rs

    matrix = rs.RMinHash.digest_matrix_from_token_sets(token_sets(texts), num_perm=128, seed=42)
    lsh = rs.RMinHashLSH(threshold=0.7, num_perm=128, num_bands=16)
    lsh.insert_matrix(matrix)
    return sum(lsh.query_duplicate_flags_matrix(matrix))


def race(systems: dict, texts: list[str], rounds: int = 5) -> dict[str, float]:
    """Documents per second of each system, best of `rounds`. Rounds go round-robin over the systems, so a slow spell
    of this shared machine lands on all of them rather than on whichever ran then."""
    for fn in systems.values():
        fn(texts[:50])  # warm caches (OpenCC, permutations, imports) outside the timing
    best = dict.fromkeys(systems, float("inf"))
    for _ in range(rounds):
        for name, fn in systems.items():
            start = time.perf_counter()
            fn(texts)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: len(texts) / seconds for name, seconds in best.items()}


def scale_documents(n: int, seed: int = 0) -> list[str]:
    from canto_nemo.cantonese.corpora import iter_corpus

    sentences = [s for _, s in iter_corpus("pycantonese:ctcpc")]
    rng = random.Random(seed)
    return ["".join(rng.choices(sentences, k=6)) for _ in range(n)]


def scale_child(n: int) -> None:
    """Runs in a fresh process: documents per second and peak memory for n documents."""
    texts = scale_documents(n)
    chars = sum(len(t) for t in texts)
    import numpy as np
    import torch

    from canto_nemo.curator_stages.lsh import candidate_pairs
    from canto_nemo.curator_stages.minhash import MinHashConfig, band_keys, signatures

    config = MinHashConfig()
    start = time.perf_counter()
    keys, sigs = [], []
    for i in range(0, n, 50_000):  # signatures batch by batch, as the Curator stage makes them
        signature = signatures(texts[i : i + 50_000], config, pack="cantonese")
        keys.append(band_keys(signature, config).numpy())
        sigs.append(signature.to(torch.int32))  # minhashes are < 2^31
    pairs = candidate_pairs(np.concatenate(keys))  # then the whole corpus's candidates, verified
    signature = torch.cat(sigs)
    similar = (signature[pairs[:, 0]] == signature[pairs[:, 1]]).float().mean(dim=1) >= config.threshold
    seconds = time.perf_counter() - start
    print(f"{int(similar.sum())} near-duplicate pairs", file=sys.stderr)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"documents": n, "chars": chars, "seconds": seconds, "peak_mb": peak_mb}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="10000,100000,1000000", help="document counts for the scale table")
    parser.add_argument("--skip-quality", action="store_true", help="only the speed and scale tables")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per system (best counts)")
    parser.add_argument("--scale-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_child:
        scale_child(args.scale_child)
        return

    import torch

    print(f"Python {platform.python_version()}, {platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; CUDA: {torch.cuda.is_available()}")
    texts = [] if args.skip_quality else near_duplicate_set()
    print(f"\nQuality: {len(texts)} documents (700 real LIHKG posts + 700 edited copies), threshold 0.7\n")
    print("| shingle n | precision | recall | F1 |\n|---:|---:|---:|---:|")
    for n in (3, 4, 5, 6, 7) if texts else ():
        precision, recall, f1 = quality(texts, n, 0.7)
        print(f"| {n} | {precision:.3f} | {recall:.3f} | {f1:.3f} |")

    speed_texts = lihkg_posts(min_chars=1) * 3
    print(f"\nSpeed: signatures + LSH candidates, {len(speed_texts):,} LIHKG posts, one process\n")
    print("| system | documents/s | ratio to ours (CPU) |\n|---|---:|---:|")
    systems = {"canto-nemo (torch, CPU)": ours}
    if torch.cuda.is_available():
        systems["canto-nemo (torch, CUDA)"] = lambda t: ours(t, "cuda")
    systems |= {"datasketch 2.0.0": datasketch, "rensa 0.5.0": rensa}
    speeds = race(systems, speed_texts, args.rounds)
    ours_cpu = speeds["canto-nemo (torch, CPU)"]
    for name, speed in speeds.items():
        print(f"| {name} | {speed:,.0f} | {speed / ours_cpu:.2f} |")

    print("\nScale (CPU; each size in a fresh process)\n")
    print("| documents | characters | seconds | documents/s | peak memory (MB) |\n|---:|---:|---:|---:|---:|")
    for n in [int(x) for x in args.scale.split(",") if x]:
        out = subprocess.run([sys.executable, __file__, "--scale-child", str(n)], capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        print(f"| {r['documents']:,} | {r['chars']:,} | {r['seconds']:.1f} | {r['documents'] / r['seconds']:,.0f} | "
              f"{r['peak_mb']:,.0f} |")


if __name__ == "__main__":
    main()

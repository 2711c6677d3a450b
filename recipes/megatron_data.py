"""Curated JSONL -> Megatron indexed datasets (`.bin/.idx`) with megatron-core's `IndexedDatasetBuilder`.

One document is one sequence, with the tokenizer's end-of-document token appended. Documents go to the train or
the validation split by a hash of their id, so the split does not depend on input order or on how many workers ran.
Worker processes read, tokenize and write one shard dataset per input part (a file or an 8 MB range of one); the
shards are then concatenated in input order (`IndexedDatasetBuilder.add_index`), so the result is the same for any
number of workers.

Writes, for output=PREFIX:
  PREFIX_train_text_document.{bin,idx}, PREFIX_validation_text_document.{bin,idx}
  PREFIX_blend.json     the `paths` argument of NeMo's PreTrainingDataModule (train / validation / test)
  PREFIX_manifest.json  documents and tokens per split, the tokenizer, its EOD id and (padded) vocabulary size
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import xxhash

from canto_nemo.common.outputs import prepare_output_files
from canto_nemo.curator_stages.corpus import Skipped, partition_documents, resolve_inputs
from canto_nemo.curator_stages.readers import partitions

SPLITS = ("train", "validation")
HASH_BUCKETS = 1_000_000


def split_of(doc_id: str, validation_fraction: float) -> str:
    bucket = xxhash.xxh64_intdigest(doc_id.encode("utf-8")) % HASH_BUCKETS
    return "validation" if bucket < validation_fraction * HASH_BUCKETS else "train"


def dataset_prefix(output: str, split: str) -> str:
    return f"{output}_{split}_text_document"


def output_files(output: str) -> list[Path]:
    """Every file `build` writes for output=PREFIX."""
    files = [Path(f"{dataset_prefix(output, split)}{ext}") for split in SPLITS for ext in (".bin", ".idx")]
    return [*files, Path(f"{output}_blend.json"), Path(f"{output}_manifest.json")]


def token_dtype(vocab_size: int):
    from megatron.core.datasets.indexed_dataset import DType

    return DType.optimal_dtype(vocab_size)


# ------------------------------------------------------------------------------------------------------- workers

_WORKER: dict = {}


def _init_worker(tokenizer_json: str, eod: int, dtype, own_process: bool = True) -> None:
    if own_process:
        # Each worker is one process on one core: the tokenizer's own thread pool would oversubscribe the machine.
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
    from tokenizers import Tokenizer

    _WORKER.update(tokenizer=Tokenizer.from_str(tokenizer_json), eod=eod, dtype=dtype)


def _write_shard(index: int, path: str, config: dict, text_field: str, shard_dir: str,
                 validation_fraction: float) -> dict:
    """Reads, tokenizes and writes one input partition as one shard dataset per split; returns its counts."""
    import torch
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    tokenizer, eod, dtype = _WORKER["tokenizer"], _WORKER["eod"], _WORKER["dtype"]
    skipped = Skipped()
    docs = list(partition_documents(path, config, text_field, skipped))
    encodings = tokenizer.encode_batch([text for _, text in docs], add_special_tokens=False)
    builders, counts = {}, {split: {"documents": 0, "tokens": 0} for split in SPLITS}
    max_id = -1
    for (doc_id, _), encoding in zip(docs, encodings, strict=True):
        split = split_of(doc_id, validation_fraction)
        if split not in builders:
            builders[split] = IndexedDatasetBuilder(f"{shard_dir}/{index:07d}_{split}.bin", dtype=dtype)
        ids = np.asarray([*encoding.ids, eod], dtype=dtype)
        builders[split].add_item(torch.from_numpy(ids))
        builders[split].end_document()
        counts[split]["documents"] += 1
        counts[split]["tokens"] += ids.size
        max_id = max(max_id, int(ids.max()))
    for split, builder in builders.items():
        builder.finalize(f"{shard_dir}/{index:07d}_{split}.idx")
    return {"index": index, "counts": counts, "max_id": max_id, "characters": sum(len(t) for _, t in docs),
            "skipped": skipped.count, "skipped_examples": skipped.examples}


# ------------------------------------------------------------------------------------------------------- build


def build(input, tokenizer: str, output: str, *, text_field: str = "text", validation_fraction: float = 0.01,
          workers: int | None = None, split_bytes: int = 8 * 1024 * 1024, overwrite: bool = False,
          progress=print) -> dict:
    """Builds the datasets; returns the manifest. `workers` defaults to the number of cores."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    from canto_nemo.recipes.tokenizer import eod_id, padded, resolve

    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must be between 0 and 1, got {validation_fraction}")
    tok, info = resolve(tokenizer)
    eod = eod_id(tok, info)
    vocab_size = tok.get_vocab_size()
    dtype = token_dtype(vocab_size)
    out_dir = Path(output).parent
    prepare_output_files(output_files(output), overwrite)
    parts = partitions(resolve_inputs(input), split_bytes)
    workers = max(1, min(workers or os.cpu_count() or 1, len(parts)))  # each worker loads the tokenizer: none idle
    start = time.perf_counter()
    shard_dir = tempfile.mkdtemp(prefix=".shards-", dir=out_dir)
    results: list[dict] = []
    try:
        if workers == 1:
            _init_worker(tok.to_str(), eod, dtype, own_process=False)
            for index, (path, config) in enumerate(parts):
                results.append(_write_shard(index, path, config, text_field, shard_dir, validation_fraction))
                _report(progress, results, len(parts), start)
        else:
            # fork shares the parent's imports (megatron-core takes ~7 s to import); with other threads running
            # (Ray, a demo's earlier stages) a fork could copy a held lock, so then spawn.
            context = multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")
            with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                                     initargs=(tok.to_str(), eod, dtype)) as pool:
                futures = [pool.submit(_write_shard, index, path, config, text_field, shard_dir, validation_fraction)
                           for index, (path, config) in enumerate(parts)]
                for future in as_completed(futures):
                    results.append(future.result())
                    _report(progress, results, len(parts), start)
        skipped = Skipped(sum(r["skipped"] for r in results), [e for r in results for e in r["skipped_examples"]][:5])
        skipped.report("megatron-data")
        totals = {split: {"documents": sum(r["counts"][split]["documents"] for r in results),
                          "tokens": sum(r["counts"][split]["tokens"] for r in results)} for split in SPLITS}
        if not any(t["documents"] for t in totals.values()):
            raise ValueError(f"no documents in {input}: nothing to write")
        for split in SPLITS:
            if totals[split]["documents"] == 0:
                raise ValueError(f"no document fell into the {split} split ({totals['train']['documents']} train, "
                                 f"{totals['validation']['documents']} validation): the corpus is too small for "
                                 f"validation_fraction={validation_fraction}")
        # add_index runs gc.collect() per shard, which costs ~0.3 s with torch loaded; frozen objects are skipped.
        gc.freeze()
        for split in SPLITS:
            prefix = dataset_prefix(output, split)
            builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=dtype)
            for r in sorted(results, key=lambda r: r["index"]):
                if r["counts"][split]["documents"]:
                    builder.add_index(f"{shard_dir}/{r['index']:07d}_{split}")
            builder.finalize(f"{prefix}.idx")
    finally:
        gc.unfreeze()
        shutil.rmtree(shard_dir, ignore_errors=True)

    seconds = time.perf_counter() - start
    tokens = sum(t["tokens"] for t in totals.values())
    manifest = {
        "tokenizer": info["name"], "vocab_size": vocab_size,
        "padded_vocab_size": info.get("padded_vocab_size", padded(vocab_size)), "eod": info["eod"], "eod_id": eod,
        "dtype": np.dtype(dtype).name, "validation_fraction": validation_fraction, "splits": totals,
        "characters": sum(r["characters"] for r in results), "skipped_records": skipped.count,
        "max_token_id": max(r["max_id"] for r in results),
        "workers": workers, "seconds": round(seconds, 2), "tokens_per_second": round(tokens / seconds),
        "prefixes": {split: dataset_prefix(output, split) for split in SPLITS},
    }
    blend = {"train": [dataset_prefix(output, "train")], "validation": [dataset_prefix(output, "validation")],
             "test": [dataset_prefix(output, "validation")]}
    Path(f"{output}_blend.json").write_text(json.dumps(blend, indent=2) + "\n", encoding="utf-8")
    Path(f"{output}_manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")
    progress(f"megatron-data: {totals['train']['documents']:,} train / {totals['validation']['documents']:,} "
             f"validation documents, {tokens:,} tokens in {seconds:.1f} s ({manifest['tokens_per_second']:,} tokens/s, "
             f"{workers} workers) -> {output}_*")
    return manifest


def _report(progress, results: list[dict], total: int, start: float) -> None:
    if len(results) % 10 == 0 or len(results) == total:
        tokens = sum(c["tokens"] for r in results for c in r["counts"].values())
        progress(f"megatron-data: {len(results)}/{total} parts, {tokens:,} tokens written "
                 f"({time.perf_counter() - start:.0f} s)")


def read_back(prefix: str):
    """megatron-core's own reader of a written dataset (documents in input order within the split)."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    return IndexedDataset(prefix)


def validation_texts(input, validation_fraction: float, text_field: str = "text") -> list[str]:
    """The texts that `build` put into the validation split (held out from training)."""
    from canto_nemo.curator_stages.corpus import documents

    return [text for doc_id, text in documents(input, text_field) if split_of(doc_id, validation_fraction) ==
            "validation"]

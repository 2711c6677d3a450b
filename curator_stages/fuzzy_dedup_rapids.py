"""The `fuzzy_backend: nemo_curator` switch: NeMo Curator's own GPU fuzzy-dedup workflow (RAPIDS: cudf, cuGraph) with
our Han-tuned parameters, for machines that have RAPIDS (NVIDIA's NeMo Curator container).

NeMo Curator shingles the raw text of one field, with 24-character shingles and 20 x 13 bands made for English. So:
1. `prepare` writes, beside the pass-1 Parquet, one file per batch with `id` and `_shingle_text` (the text normalised
   as our torch path does: variants folded, punctuation and whitespace dropped), excluding exact duplicates;
2. `FuzzyDeduplicationWorkflow` runs on those files with our n-gram size, bands, rows and seed
   (`workflow_kwargs`), one FileGroupTask per file, so NeMo Curator's id generator gives each file one id range;
3. `read_duplicates` maps NeMo Curator's integer ids back to ours through that id generator (its JSON), reads the LSH
   buckets and the minhashes it left in its cache, pairs each bucket's documents with its smallest id as our torch
   path does (NeMo Curator's own edges chain a bucket's members in its id order, which depends on which worker
   finished first), and clusters them with `clusters` from fuzzy_dedup.py: the same verification at `threshold`
   (NeMo Curator keeps every LSH candidate unverified) and the same survivor (the smallest id), so both backends
   give the rejects the same `duplicate_of` rule.
Steps 1 and 3 run anywhere and are tested on CPU; step 2 needs a GPU with RAPIDS and a running Ray cluster (its id
generator is a Ray actor that must outlive several Ray sessions) and is unverified here.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from loguru import logger

from canto_nemo.curator_stages.columns import KEY
from canto_nemo.curator_stages.language_pack import LanguagePack
from canto_nemo.curator_stages.minhash import MinHashConfig, normalise_for_shingles

BACKENDS = ("torch", "nemo_curator")
SHINGLE_TEXT = "_shingle_text"
DEDUP_ID = "_curator_dedup_id"  # nemo_curator.stages.deduplication.id_generator.CURATOR_DEDUP_ID_STR
MINHASH_FIELD = "_minhash_signature"  # nemo_curator.stages.deduplication.fuzzy.utils.CURATOR_DEFAULT_MINHASH_FIELD
ID_GENERATOR_FILE = "fuzzy_id_generator.json"  # nemo_curator...fuzzy.workflow.ID_GENERATOR_OUTPUT_FILENAME
ROWS_PER_FILE = 200_000
# What NeMo Curator's fuzzy workflow imports: cudf (minhash, LSH), pylibcugraph (components), rapidsmpf (the shuffle).
RAPIDS_MODULES = ("cudf", "pylibcugraph", "rapidsmpf")


def check_backend(backend: str, config: MinHashConfig | None = None, ray_address: str | None = None) -> None:
    if backend not in BACKENDS:
        msg = f"fuzzy_backend must be one of {BACKENDS}, not {backend!r}"
        raise ValueError(msg)
    if backend != "nemo_curator":
        return
    missing = [name for name in RAPIDS_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        msg = (f"fuzzy_backend=nemo_curator runs NeMo Curator's GPU fuzzy dedup, which needs RAPIDS and a GPU "
               f"({', '.join(missing)} not installed): use NVIDIA's NeMo Curator container, or fuzzy_backend=torch "
               "(CUDA or CPU, no RAPIDS)")
        raise ValueError(msg)
    if not ray_address:
        # Its id generator is a detached Ray actor, created in one ray.init/ray.shutdown and looked up in later ones:
        # with one-machine Ray (RAY_ADDRESS=local, each pipeline its own instance) the first shutdown takes it along.
        msg = ("fuzzy_backend=nemo_curator needs a running Ray cluster (NeMo Curator's fuzzy workflow keeps its id "
               "generator in a Ray actor across several Ray sessions): start one (`ray start --head`, or NeMo "
               "Curator's RayClient) and pass ray.address=HOST:PORT")
        raise ValueError(msg)
    if config is not None and config.ngram < 2:
        msg = f"fuzzy_backend=nemo_curator needs fuzzy.ngram >= 2 (cudf's minhash), not {config.ngram}"
        raise ValueError(msg)


def workflow_kwargs(config: MinHashConfig) -> dict:
    """FuzzyDeduplicationWorkflow arguments for our parameters, on the files `prepare` writes."""
    return {
        "input_filetype": "parquet",
        "text_field": SHINGLE_TEXT,
        "char_ngrams": config.ngram,
        "num_bands": config.bands,
        "minhashes_per_band": config.rows,
        "seed": config.seed,
        "bands_per_iteration": min(5, config.bands),  # NeMo Curator's default, which must not exceed the bands
        "use_64_bit_hash": False,
        "normalize_text": False,  # ours is done: NeMo Curator's only lowercases and trims
    }


def prepare(parquet_dir: str, work_dir: str, config: MinHashConfig, pack: LanguagePack | str | None,
            text_field: str = "text",
            exclude: set[str] | None = None) -> list[str]:
    """Writes WORK/input/part-NNNNN.parquet (our KEY, _shingle_text), batch by batch; returns the files in order."""
    out = Path(work_dir).resolve() / "input"  # absolute: Ray workers open these paths
    out.mkdir(parents=True, exist_ok=True)
    dataset = pads.dataset(parquet_dir, format="parquet")
    files = []
    for batch in dataset.to_batches(columns=[KEY, text_field], batch_size=ROWS_PER_FILE):
        ids = batch.column(KEY).to_pylist()
        texts = batch.column(text_field).to_pylist()
        if exclude:
            keep = [i for i, doc_id in enumerate(ids) if doc_id not in exclude]
            ids, texts = [ids[i] for i in keep], [texts[i] for i in keep]
        if not ids:
            continue
        path = str(out / f"part-{len(files):05d}.parquet")
        table = pa.table({KEY: ids, SHINGLE_TEXT: normalise_for_shingles(texts, config, pack)})
        pq.write_table(table, path)
        files.append(path)
    return files


def run_workflow(files: list[str], work_dir: str, config: MinHashConfig) -> None:
    """NeMo Curator's FuzzyDeduplicationWorkflow on the prepared files (needs a GPU with RAPIDS and a Ray cluster)."""
    from nemo_curator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow
    from nemo_curator.tasks import FileGroupTask

    tasks = [FileGroupTask(dataset_name="canto-nemo-fuzzy", data=[path]) for path in files]
    work = Path(work_dir).resolve()
    workflow = FuzzyDeduplicationWorkflow(cache_path=str(work / "cache"), output_path=str(work / "output"),
                                          **workflow_kwargs(config))
    workflow.run(initial_tasks=tasks)


def read_duplicates(files: list[str], work_dir: str, config: MinHashConfig) -> pd.DataFrame:
    """(KEY, duplicate_of_key) from what FuzzyDeduplicationWorkflow left in WORK/output and WORK/cache."""
    # torch (lsh imports it too) is imported here, not with the module: `check_backend` runs in the driver of every
    # run with fuzzy dedup, where importing torch took 1.6 s of the CPU the starting Ray head needs (issue 26)
    import torch
    from nemo_curator.stages.deduplication.id_generator import IdGeneratorBase  # imports Ray, not RAPIDS

    from canto_nemo.curator_stages.lsh import clusters, empty_duplicates

    generator = IdGeneratorBase.from_disk(str(Path(work_dir) / "output" / ID_GENERATOR_FILE))
    ours, theirs = [], []
    for path in files:
        ids = pq.read_table(path, columns=[KEY]).column(KEY).to_pylist()
        try:
            low, high = generator.get_batch_range(files=[path], key=None)  # the range of the file group [path]
        except KeyError:
            msg = f"NeMo Curator's id generator has no id range for {path}: was it run on these files?"
            raise KeyError(msg) from None
        if high - low + 1 != len(ids):
            msg = f"NeMo Curator counted {high - low + 1} documents in {path}, which holds {len(ids)}"
            raise ValueError(msg)
        ours += ids
        theirs.append(np.arange(low, high + 1))
    ours_array = np.asarray(ours, dtype=object)
    order = np.argsort(ours_array, kind="stable")  # row order = id order, as clusters() wants
    ids = ours_array[order]
    their_id = pd.Index(np.concatenate(theirs)[order])  # NeMo Curator's id of each of our rows

    cache = Path(work_dir) / "cache"
    pairs = _bucket_pairs(cache, their_id)
    if len(pairs) == 0:
        return empty_duplicates()

    involved = np.unique(pairs)
    # Only the candidates' minhashes are read, in our row order.
    wanted = pc.field(DEDUP_ID).isin(pa.array(their_id[involved].to_numpy()))
    minhashes = pads.dataset(str(cache / "MinHashStage"), format="parquet").to_table(
        columns=[DEDUP_ID, MINHASH_FIELD], filter=wanted).to_pandas()
    minhashes["row"] = their_id.get_indexer(minhashes[DEDUP_ID])
    minhashes = minhashes.sort_values("row")
    if not np.array_equal(minhashes["row"].to_numpy(), involved):
        msg = f"NeMo Curator's minhashes under {cache / 'MinHashStage'} do not cover the candidate documents once each"
        raise ValueError(msg)
    signature = torch.as_tensor(np.stack(minhashes[MINHASH_FIELD].to_numpy()).astype(np.int64))
    found = clusters(ids, pairs, involved, signature, config.threshold)
    logger.info(f"NeMo Curator's fuzzy dedup: {len(pairs)} candidate pairs, {len(found)} near duplicate(s) verified")
    return found


def _bucket_pairs(cache: Path, their_ids: pd.Index) -> np.ndarray:
    """(pairs, 2) of our rows: each document of an LSH bucket with the bucket's first (smallest-id) document, read
    from cache/LSHStage/band_*/part.*.parquet (one row per bucket of two or more documents: its list of ids)."""
    from canto_nemo.curator_stages.lsh import star_pairs

    pairs = []
    for path in sorted((cache / "LSHStage").glob("band_*/*.parquet")):
        column = pq.read_table(path, columns=[DEDUP_ID]).column(DEDUP_ID).combine_chunks()
        if len(column) == 0 or not pa.types.is_list(column.type):  # an empty partition is written ungrouped
            continue
        bucket = pc.list_parent_indices(column).to_numpy()
        rows = their_ids.get_indexer(pc.list_flatten(column).to_numpy())
        if (rows < 0).any():
            msg = f"{path} names documents NeMo Curator's id generator never gave out: a stale cache?"
            raise ValueError(msg)
        pairs.append(star_pairs(bucket, rows))
    if not pairs:  # NeMo Curator writes no bucket when no two documents share one
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)


def find_fuzzy_duplicates_rapids(parquet_dir: str, work_dir: str, config: MinHashConfig, ray_address: str,
                                 pack: LanguagePack | str | None, text_field: str = "text",
                                 exclude: set[str] | None = None) -> pd.DataFrame:
    """What find_fuzzy_duplicates gives, computed by NeMo Curator's GPU workflow on the Ray cluster at ray_address
    (RAY_ADDRESS is set to it, as NeMo Curator's executors read it)."""
    from canto_nemo.curator_stages.lsh import empty_duplicates

    check_backend("nemo_curator", config, ray_address)
    os.environ["RAY_ADDRESS"] = ray_address
    shutil.rmtree(work_dir, ignore_errors=True)  # a cache left by an earlier run would be read back as this one's
    files = prepare(parquet_dir, work_dir, config, pack, text_field, exclude)
    if len(files) == 0:
        return empty_duplicates()
    run_workflow(files, work_dir, config)
    return read_duplicates(files, work_dir, config)

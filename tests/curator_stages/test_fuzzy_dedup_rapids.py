"""The `fuzzy_backend: nemo_curator` switch, on CPU. NeMo Curator's GPU workflow itself cannot run here (no RAPIDS,
no GPU); what can is tested: the arguments we pass exist in the installed NeMo Curator, the checks made up front, the
files we prepare, and the reading of its outputs back into our ids, with NeMo Curator's own IdGenerator assigning the
ids. Its minhash and LSH bucket files are written here in its format (column names taken from the installed package)
from our signatures."""

import ast
import importlib.util
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from nemo_curator.stages.deduplication.id_generator import CURATOR_DEDUP_ID_STR, IdGeneratorBase

from canto_nemo.curator_stages import fuzzy_dedup_rapids as rapids
from canto_nemo.curator_stages.columns import KEY
from canto_nemo.curator_stages.fuzzy_dedup import find_fuzzy_duplicates
from canto_nemo.curator_stages.minhash import MinHashConfig, band_keys, signatures
from canto_nemo.curator_stages.workflow import CurationWorkflow

CONFIG = MinHashConfig()
NEMO_FUZZY = Path(importlib.util.find_spec("nemo_curator").origin).parent / "stages" / "deduplication" / "fuzzy"


def nemo_constant(path: Path, name: str) -> str:
    """A module-level string constant of an installed NeMo Curator file that cannot be imported without cudf."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not in {path}")


def test_names_match_the_installed_nemo_curator():
    tree = ast.parse((NEMO_FUZZY / "workflow.py").read_text())
    workflow = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "FuzzyDeduplicationWorkflow")
    init = next(n for n in workflow.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    arguments = {a.arg for a in init.args.args + init.args.kwonlyargs}
    assert set(rapids.workflow_kwargs(CONFIG)) | {"cache_path", "output_path"} <= arguments
    assert rapids.ID_GENERATOR_FILE == nemo_constant(NEMO_FUZZY / "workflow.py", "ID_GENERATOR_OUTPUT_FILENAME")
    assert rapids.MINHASH_FIELD == nemo_constant(NEMO_FUZZY / "utils.py", "CURATOR_DEFAULT_MINHASH_FIELD")
    assert rapids.DEDUP_ID == CURATOR_DEDUP_ID_STR
    kwargs = rapids.workflow_kwargs(MinHashConfig(ngram=5, bands=20, rows=6, seed=7))
    assert (kwargs["char_ngrams"], kwargs["num_bands"], kwargs["minhashes_per_band"], kwargs["seed"]) == (5, 20, 6, 7)
    assert rapids.workflow_kwargs(MinHashConfig(bands=3, rows=40))["bands_per_iteration"] == 3  # NeMo: <= bands


def test_backend_is_checked_before_anything_runs(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="fuzzy_backend must be one of"):
        CurationWorkflow(input=[str(tmp_path)], output=str(tmp_path / "out"), pack="cantonese", fuzzy=CONFIG,
                         fuzzy_backend="cudf")
    if importlib.util.find_spec("cudf") is None:
        with pytest.raises(ValueError, match="needs RAPIDS"):
            CurationWorkflow(input=[str(tmp_path)], output=str(tmp_path / "out"), pack="cantonese", fuzzy=CONFIG,
                             fuzzy_backend="nemo_curator")
    # Where RAPIDS is there: a Ray cluster is required (NeMo Curator's id generator must outlive its Ray sessions),
    # and shingles of at least two characters (cudf's minhash).
    monkeypatch.setattr(rapids, "RAPIDS_MODULES", ())
    with pytest.raises(ValueError, match="needs a running Ray cluster"):
        rapids.check_backend("nemo_curator", CONFIG, None)
    with pytest.raises(ValueError, match="ngram >= 2"):
        rapids.check_backend("nemo_curator", MinHashConfig(ngram=1), "head:6379")
    rapids.check_backend("nemo_curator", CONFIG, "head:6379")
    # without fuzzy dedup the backend does not matter
    CurationWorkflow(input=[str(tmp_path)], output=str(tmp_path / "out"), pack="cantonese", fuzzy_dedup=False,
                     fuzzy_backend="nemo_curator")


def write_nemo_outputs(files: list[str], work: Path, seed: int) -> None:
    """What FuzzyDeduplicationWorkflow leaves behind, for the prepared files: the id generator's JSON (ranges handed
    out by NeMo Curator's IdGenerator, files registered in a shuffled order as parallel workers would), minhashes
    under cache/MinHashStage and LSH buckets under cache/LSHStage."""
    generator = IdGeneratorBase(start_id=1000)
    order = files[:]
    random.Random(seed).shuffle(order)
    for path in order:
        generator.register_batch([path], pq.read_metadata(path).num_rows)
    (work / "output").mkdir(parents=True)
    generator.to_disk(str(work / "output" / rapids.ID_GENERATOR_FILE))

    prepared = pd.concat([pq.read_table(p).to_pandas().assign(
        nemo_id=lambda df, p=p: generator.get_batch_range([p], None)[0] + np.arange(len(df))) for p in files])
    # The text is normalised already: hash it as it is, as NeMo Curator would.
    raw = MinHashConfig(fold_variants=False, ignore_punctuation=False)
    signature = signatures(prepared[rapids.SHINGLE_TEXT].tolist(), raw, pack=None)
    (work / "cache" / "MinHashStage").mkdir(parents=True)
    pq.write_table(pa.table({rapids.DEDUP_ID: prepared["nemo_id"].to_numpy(),
                             rapids.MINHASH_FIELD: [row.astype(np.uint32) for row in signature.numpy()]}),
                   work / "cache" / "MinHashStage" / "0.parquet")
    # LSH buckets as its LSHStage writes them: per group of bands a folder, one row per bucket of two or more
    # documents holding the sorted list of their ids; an empty partition is written ungrouped.
    keys = band_keys(signature, raw).numpy()
    nemo_id = prepared["nemo_id"].to_numpy()
    for first in range(0, raw.bands, 5):
        bands = range(first, min(first + 5, raw.bands))
        folder = work / "cache" / "LSHStage" / f"band_{first}-band_{bands[-1] + 1}"
        folder.mkdir(parents=True)
        members: dict[tuple[int, int], list[int]] = {}
        for band in bands:
            for row, key in enumerate(keys[:, band]):
                members.setdefault((band, int(key)), []).append(int(nemo_id[row]))
        buckets = [(f"{band}_{key}", sorted(ids)) for (band, key), ids in members.items() if len(ids) > 1]
        pq.write_table(pa.table({"_bucket_id": [b for b, _ in buckets],
                                 rapids.DEDUP_ID: pa.array([ids for _, ids in buckets], pa.list_(pa.int64()))}),
                       folder / "part.0.parquet")
        pq.write_table(pa.table({rapids.DEDUP_ID: pa.array([], pa.int64()), "_bucket_id": pa.array([], pa.string())}),
                       folder / "part.1.parquet")


def test_nemo_curators_output_reads_back_to_the_torch_paths_duplicates(lihkg_posts, tmp_path, monkeypatch,
                                                                    write_minhash_parts):
    base = [p for p in lihkg_posts if len(p) > 150][:80]
    docs = [(f"d{i:03d}", p) for i, p in enumerate(base)]
    docs += [(f"e{i:03d}", p + "（轉載）") for i, p in enumerate(base[:15])]
    docs += [("f000", base[20].replace("，", ",")), ("g000", base[30])]
    random.Random(0).shuffle(docs)
    filtered = write_minhash_parts(tmp_path / "filtered", docs, parts=3)
    exclude = {"g000"}  # as exact duplicates are
    expected = find_fuzzy_duplicates(filtered, CONFIG, exclude=exclude)
    assert len(expected) >= 16

    monkeypatch.setattr(rapids, "ROWS_PER_FILE", 30)  # several prepared files, so several id ranges
    files = rapids.prepare(filtered, str(tmp_path / "work"), CONFIG, "cantonese", exclude=exclude)
    assert len(files) >= 3
    prepared = pd.concat([pq.read_table(p).to_pandas() for p in files])
    assert set(prepared[KEY]) == {d for d, _ in docs} - exclude
    assert not prepared[rapids.SHINGLE_TEXT].str.contains(r"[，。！？\s]").any()  # punctuation and spaces gone

    write_nemo_outputs(files, tmp_path / "work", seed=1)
    found = rapids.read_duplicates(files, str(tmp_path / "work"), CONFIG)
    assert sorted(zip(found[KEY], found["duplicate_of_key"], strict=True)) == sorted(
        zip(expected[KEY], expected["duplicate_of_key"], strict=True))


def test_no_shared_bucket_means_no_duplicates(lihkg_posts, tmp_path, write_minhash_parts):
    docs = [(f"d{i:03d}", p) for i, p in enumerate([p for p in lihkg_posts if len(p) > 150][:10])]
    filtered = write_minhash_parts(tmp_path / "filtered", docs, parts=1)
    files = rapids.prepare(filtered, str(tmp_path / "work"), CONFIG, "cantonese")
    write_nemo_outputs(files, tmp_path / "work", seed=0)
    assert rapids.read_duplicates(files, str(tmp_path / "work"), CONFIG).empty  # ten distinct posts
    for part in (tmp_path / "work" / "cache" / "LSHStage").glob("band_*/*.parquet"):
        part.unlink()  # no bucket of two documents: NeMo Curator writes none
    assert rapids.read_duplicates(files, str(tmp_path / "work"), CONFIG).empty


def test_files_the_id_generator_never_saw_are_named(lihkg_posts, tmp_path, write_minhash_parts):
    docs = [(f"d{i:03d}", p) for i, p in enumerate(lihkg_posts[:10])]
    filtered = write_minhash_parts(tmp_path / "filtered", docs, parts=1)
    files = rapids.prepare(filtered, str(tmp_path / "work"), CONFIG, "cantonese")
    write_nemo_outputs(files, tmp_path / "work", seed=0)
    stray = str(tmp_path / "work" / "input" / "part-99999.parquet")
    pq.write_table(pq.read_table(files[0]), stray)
    with pytest.raises(KeyError, match=r"part-99999\.parquet"):
        rapids.read_duplicates([*files, stray], str(tmp_path / "work"), CONFIG)


@pytest.mark.skipif(importlib.util.find_spec("cudf") is not None, reason="RAPIDS is installed here")
def test_dedup_command_without_rapids_says_what_is_missing(tmp_path, capsys):
    from canto_nemo.cli import main

    (tmp_path / "in.jsonl").write_text('{"text": "今日好熱呀"}\n', encoding="utf-8")
    code = main(["dedup", f"input={tmp_path}/in.jsonl", f"output={tmp_path}/out", "fuzzy_backend=nemo_curator"])
    assert code == 2
    assert "needs RAPIDS" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # stopped before writing anything


"""End-to-end curation throughput: `canto-nemo curate`'s workflow on a real corpus next to the ceiling (its stages
called directly, one process) and two anchors doing the same steps, in the same run on the same machine.

    .venv/bin/python benchmarks/pipeline.py [--scale 1 4 16] [--skip-anchors]

Systems (each in its own process; peak memory is the proportional set size sampled over that process and its children,
Ray's included, so that shared memory counts once):
- `ours`: CurationWorkflow with the default pipeline (read, 11 cleaning/labelling/filtering stages, exact and fuzzy
  dedup, rejects, two passes), as `canto-nemo curate input=DIR` runs it; time per pass and per stage from its
  stats.json (NeMo Curator's own per-stage metrics).
- `ours_unfused`: the same with fuse=false (one engine stage per stage, as before the stages were fused).
- `ours_no_dedup`: `ours` with exact_dedup=false fuzzy_dedup=false: one pass, the same shape as the anchors.
- `ours_actor_pool`, `ours_xenna`: `ours` on NeMo Curator's other executors (executor=ray_actor_pool, executor=xenna),
  in which a stage is set up once per actor and stays, instead of Ray Data's tasks.
- `stock_curator`: NeMo Curator's stock text pipeline of the same shape: its JsonlReader, one `Modify` per modifier,
  one `ScoreFilter` per filter (our dialect labeller and Filter, no rejects), its JsonlWriter; no dedup.
- `datatrove`: datatrove's LocalPipelineExecutor (2 tasks, 2 workers) with equivalent steps calling the same
  modifiers, filters and dialect judge; no dedup.
- `ceiling`: our reader and every stage of `ours` pass 1 (hashing included) called directly on the same batches in
  one process; the work without an engine (per core).

Throughput is MB of input JSONL (uncompressed) per second of wall time per core used: the machine's cores, and one
for the ceiling. --scale N repeats the corpus N
times with new ids (`ours` only), to show time and memory against corpus size.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WIKIPEDIA = REPO.parent / "shared" / "data" / "yue_wikipedia"
LIHKG = REPO.parent / "shared" / "data" / "lihkg"
CORES = os.cpu_count() or 1


def input_megabytes(folder: Path) -> float:
    total = 0
    for path in sorted(folder.iterdir()):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            while chunk := f.read(1 << 24):
                total += len(chunk)
    return total / 1e6


def lihkg_folder(work: Path) -> Path:
    """LIHKG posts (TSV) as a JSONL folder, so every system reads the same format."""
    import csv

    folder = work / "lihkg"
    folder.mkdir(exist_ok=True)
    csv.field_size_limit(sys.maxsize)
    with (folder / "posts.jsonl").open("w", encoding="utf-8") as out:
        for name in ("test.tsv", "valid.tsv"):
            with (LIHKG / name).open(encoding="utf-8") as f:
                for i, row in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)):
                    out.write(json.dumps({"id": f"{name}:{i}", "text": row["text_a"]}, ensure_ascii=False) + "\n")
    return folder


def scaled_folder(work: Path, copies: int) -> Path:
    """The Wikipedia folder `copies` times, each copy's ids made new."""
    folder = work / f"wikipedia_x{copies}"
    folder.mkdir(exist_ok=True)
    for copy in range(copies):
        for path in sorted(WIKIPEDIA.glob("*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as f, \
                    gzip.open(folder / f"c{copy}_{path.name}", "wt", encoding="utf-8", compresslevel=1) as out:
                for line in f:
                    record = json.loads(line)
                    record["id"] = f"{copy}:{record['id']}"
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder


# ---- the systems, each run in a child process ------------------------------------------------------------------

def run_ours(folder: str, out: str, fuse: bool, dedup: bool = True, executor: str = "ray_data") -> dict:
    from canto_nemo.curator_stages.workflow import CurationWorkflow, compose

    cfg = compose([f"input={folder}", f"output={out}", f"fuse={str(fuse).lower()}",
                   f"exact_dedup={str(dedup).lower()}", f"fuzzy_dedup={str(dedup).lower()}", f"executor={executor}"])
    stats = CurationWorkflow.run_config(cfg)  # as `canto-nemo curate` runs it
    return {"documents_out": stats["documents_out"], "timings": stats["timings"]}


def default_stages():
    from canto_nemo.curator_stages.workflow import CurationWorkflow, compose

    return CurationWorkflow.from_config(compose(["input=x", "output=/nonexistent", "fuzzy_dedup=false"])).config.stages


def run_stock(folder: str, out: str) -> dict:
    from canto_nemo.curator_stages.ray_env import configure_ray

    configure_ray(None, verbose=False)
    from nemo_curator.backends.ray_data import RayDataExecutor
    from nemo_curator.pipeline import Pipeline
    from nemo_curator.stages.base import ProcessingStage
    from nemo_curator.stages.text.filters import DocumentFilter, ScoreFilter
    from nemo_curator.stages.text.io.reader import JsonlReader
    from nemo_curator.stages.text.io.writer import JsonlWriter
    from nemo_curator.stages.text.modifiers import DocumentModifier, Modify

    # Its default extensions (.jsonl, .json) would skip the corpus's .jsonl.gz files.
    stages = [JsonlReader(file_paths=folder, fields=["id", "text"], file_extensions=[".jsonl", ".json", ".gz"])]
    for name, obj in default_stages().items():
        if isinstance(obj, DocumentModifier):
            stages.append(Modify(obj, input_fields="text").with_(name=name))
        elif isinstance(obj, DocumentFilter):
            stages.append(ScoreFilter(obj, text_field="text", score_field=f"{name}_score").with_(name=name))
        elif isinstance(obj, ProcessingStage):
            stages.append(obj)  # our dialect labeller, dialect Filter and decontamination (no rejects path: drops)
    stages.append(JsonlWriter(out))
    Pipeline(name="stock", stages=stages).run(RayDataExecutor())
    return {"documents_out": sum(1 for p in Path(out).glob("*.jsonl") for _ in p.open(encoding="utf-8"))}


class _Steps:
    """The default pipeline's steps as one datatrove step over documents (datatrove runs its steps as generators in
    one process per task, so one step or eleven make no difference to it)."""

    def __init__(self):
        self.stages = None

    def __call__(self, data, rank: int = 0, world_size: int = 1):
        from nemo_curator.stages.text.filters import DocumentFilter
        from nemo_curator.stages.text.modifiers import DocumentModifier

        from canto_nemo.curator_stages.decontaminate import Decontaminate
        from canto_nemo.curator_stages.dialect import DialectFilter, DialectLabeler, _detector
        from canto_nemo.curator_stages.language_pack import get_pack

        stages = default_stages()
        chunk = []
        for doc in data:
            chunk.append(doc)
            if len(chunk) == 1000:
                yield from self._chunk(chunk, stages, DocumentModifier, DocumentFilter, DialectLabeler,
                                       DialectFilter, Decontaminate, _detector, get_pack)
                chunk = []
        yield from self._chunk(chunk, stages, DocumentModifier, DocumentFilter, DialectLabeler, DialectFilter,
                               Decontaminate, _detector, get_pack)

    @staticmethod
    def _chunk(docs, stages, modifier, doc_filter, labeler, dialect_filter, decontaminate, detector, get_pack):
        for obj in stages.values():
            if isinstance(obj, modifier):
                for doc in docs:
                    doc.text = obj.modify_document(doc.text)
            elif isinstance(obj, doc_filter):
                docs = [d for d in docs if obj.keep_document(obj.score_document(d.text))]
            elif isinstance(obj, labeler):
                results = detector(get_pack(obj.pack)).detect_batch([d.text for d in docs])
                for doc, result in zip(docs, results, strict=True):
                    doc.metadata.update(dialect_label=result.label, dialect_score=result.score,
                                        dialect_share=result.share)
            elif isinstance(obj, dialect_filter):
                policy = _one(obj.filter_fn)
                columns = ("dialect_label", "dialect_score", "dialect_share")
                docs = [d for d in docs if policy.keep_document({k: d.metadata[k] for k in columns})]
            elif isinstance(obj, decontaminate):
                overlap = _one(obj.filter_obj)
                docs = [d for d in docs if overlap.keep_document(overlap.score_document(d.text))]
        return docs


def _one(obj):
    """Curator keeps a stage's filter as a list of one once the stage is built."""
    return obj[0] if isinstance(obj, list) else obj


def run_datatrove(folder: str, out: str) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    LocalPipelineExecutor(pipeline=[JsonlReader(folder), _Steps(), JsonlWriter(out, compression=None)],
                          tasks=CORES, workers=CORES, logging_dir=out + "_logs").run()
    return {"documents_out": sum(1 for p in Path(out).glob("*.jsonl") for _ in p.open(encoding="utf-8"))}


def run_ceiling(folder: str, out: str) -> dict:
    import torch
    from nemo_curator.tasks import EmptyTask

    from canto_nemo.curator_stages.readers import InputPartitioner, RecordReader
    from canto_nemo.curator_stages.workflow import CurationWorkflow, compose

    torch.set_num_threads(1)  # one core, as a Ray worker runs it (Ray sets OMP_NUM_THREADS=1 there)
    wf = CurationWorkflow.from_config(compose([f"input={folder}", f"output={out}"]))
    Path(out).mkdir(parents=True)
    seconds = {}
    started = time.perf_counter()
    reader = RecordReader(records_per_batch=wf.config.batch_size, rejects_path=out + "/rejects",
                          counts_path=out + "/counts")
    batches = []
    for group in InputPartitioner(wf.config.input, split_bytes=wf.config.split_bytes).process(EmptyTask):
        result = reader.process(group)
        batches += result if isinstance(result, list) else [result]
    seconds["read"] = time.perf_counter() - started
    for stage in wf._middle() + wf._hashing():
        started = time.perf_counter()
        kept = []
        for batch in batches:
            result = stage.process(batch)
            kept += [] if result is None else result if isinstance(result, list) else [result]
        batches = kept
        seconds[stage.name] = time.perf_counter() - started
    return {"documents_out": sum(len(b.to_pandas()) for b in batches), "stages_s": seconds}


SYSTEMS = {"ours": lambda f, o: run_ours(f, o, True), "ours_unfused": lambda f, o: run_ours(f, o, False),
           "ours_no_dedup": lambda f, o: run_ours(f, o, True, dedup=False),
           "ours_actor_pool": lambda f, o: run_ours(f, o, True, executor="ray_actor_pool"),
           "ours_xenna": lambda f, o: run_ours(f, o, True, executor="xenna"),
           "stock_curator": run_stock, "datatrove": run_datatrove, "ceiling": run_ceiling}


def child(system: str, folder: str, out: str, result_path: str) -> None:
    from canto_nemo.curator_stages.ray_env import configure_logging

    configure_logging(verbose=False)  # as the command line runs it
    started = time.perf_counter()
    result = SYSTEMS[system](folder, out)
    result["wall_s"] = time.perf_counter() - started
    Path(result_path).write_text(json.dumps(result))


# ---- the parent: runs each system in a process and samples its memory -----------------------------------------

def measure(system: str, folder: Path, work: Path) -> dict:
    import psutil

    out = work / f"out_{system}_{folder.name}"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(str(out) + "_logs", ignore_errors=True)
    result_path = work / f"{system}_{folder.name}.json"
    started = time.perf_counter()
    log = work / f"{system}_{folder.name}.log"  # a file, not a pipe: a long run's logs would fill a pipe and stall it
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, __file__, "--child", system, str(folder), str(out),
                                 str(result_path)], stdout=subprocess.DEVNULL, stderr=err)
    driver = psutil.Process(proc.pid)
    # Proportional set sizes: Ray's object store is shared memory mapped into the raylet and every worker, and
    # resident sizes would count each mapped page once per process.
    peak_total = peak_driver = peak_worker = peak_daemons = 0
    while proc.poll() is None:
        try:
            pss_driver = driver.memory_full_info().pss
            workers, daemons = [], []
            for p in driver.children(recursive=True):
                try:
                    (workers if p.cmdline()[:1] and p.cmdline()[0].startswith("ray::") else daemons).append(
                        p.memory_full_info().pss)
                except psutil.Error:
                    pass
        except psutil.Error:
            break
        peak_driver = max(peak_driver, pss_driver)
        peak_worker = max([peak_worker, *workers])
        peak_daemons = max(peak_daemons, sum(daemons))
        peak_total = max(peak_total, pss_driver + sum(workers) + sum(daemons))
        time.sleep(0.5)
    proc.wait()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{system} failed:\n{log.read_text()[-3000:]}")
    result = json.loads(result_path.read_text())
    if not result["documents_out"]:
        raise RuntimeError(f"{system} kept no document of {folder}: it read nothing?")
    result.update(process_wall_s=wall, peak_total_gb=peak_total / 1e9, peak_driver_gb=peak_driver / 1e9,
                  peak_worker_gb=peak_worker / 1e9, peak_daemons_gb=peak_daemons / 1e9)
    shutil.rmtree(out, ignore_errors=True)
    return result


def table(rows: list[tuple], header: tuple) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                                  strict=True))))


def versions() -> str:
    from importlib.metadata import version

    names = ("nemo-curator", "ray", "datatrove", "pandas", "pyarrow")
    return ", ".join(f"{n} {version(n)}" for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, nargs="*", default=[1, 4, 16])
    parser.add_argument("--skip-anchors", action="store_true", help="only `ours` (and the scale runs)")
    parser.add_argument("--systems", nargs="*", default=list(SYSTEMS))
    parser.add_argument("--corpora", nargs="*", default=["wikipedia", "lihkg"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pipeline-bench-"))
    print(f"{platform.processor() or platform.machine()}, {CORES} cores, Python {platform.python_version()}; "
          f"{versions()}; load average before {os.getloadavg()[0]:.2f}")
    try:
        corpora = {name: WIKIPEDIA if name == "wikipedia" else lihkg_folder(work) for name in args.corpora}
        systems = ["ours"] if args.skip_anchors else args.systems
        rows = []
        for corpus, folder in corpora.items():
            mb = input_megabytes(folder)
            for system in systems:
                r = measure(system, folder, work)
                rate = mb / r["process_wall_s"] / (1 if system == "ceiling" else CORES)  # the ceiling uses one core
                print(f"{corpus} {system}: {r['process_wall_s']:.1f} s, load average after {os.getloadavg()[0]:.2f}")
                rows.append((corpus, system, f"{mb:.1f}", r["documents_out"], f"{r['process_wall_s']:.1f}",
                             f"{rate:.2f}", f"{r['peak_total_gb']:.2f}", f"{r['peak_driver_gb']:.2f}",
                             f"{r['peak_worker_gb']:.2f}", f"{r['peak_daemons_gb']:.2f}"))
                if "timings" in r:
                    t = r["timings"]
                    print(f"{corpus} {system}: ray start waited {t.get('ray_start_wait_s')} s, pass 1 "
                          f"{t.get('pass1_of_2_s', t.get('pass1_of_1_s'))} s, between {t.get('between_passes_s')} s, "
                          f"pass 2 {t.get('pass2_of_2_s')} s, statistics {t.get('collect_stats_s')} s; stage seconds "
                          + ", ".join(f"{k} {v}" for k, v in t["stages_s"].items() if "+" not in k))
                if "stages_s" in r:
                    print(f"{corpus} {system}: " + ", ".join(f"{k} {v:.2f}" for k, v in r["stages_s"].items()))
                sys.stdout.flush()
        print()
        table(rows, ("corpus", "system", "input MB", "docs out", "wall s", "MB/s/core", "peak GB", "driver GB",
                     "worker GB", "Ray daemons GB"))
        by = {(r[0], r[1]): float(r[4]) for r in rows}
        for other in ("stock_curator", "datatrove", "ours_unfused", "ours_no_dedup", "ceiling"):
            if ("wikipedia", other) in by and ("wikipedia", "ours") in by:
                print(f"wikipedia: {other} wall / ours wall = {by['wikipedia', other] / by['wikipedia', 'ours']:.2f}")
        if ("wikipedia", "ours_no_dedup") in by and ("wikipedia", "stock_curator") in by:
            print(f"wikipedia: stock_curator wall / ours_no_dedup wall = "
                  f"{by['wikipedia', 'stock_curator'] / by['wikipedia', 'ours_no_dedup']:.2f}")
        scale_rows = []
        for copies in [c for c in args.scale if c > 1] if args.scale else []:
            folder = scaled_folder(work, copies)
            mb = input_megabytes(folder)
            r = measure("ours", folder, work)
            shutil.rmtree(folder)
            scale_rows.append((f"{copies}x", f"{mb:.0f}", r["documents_out"], f"{r['process_wall_s']:.1f}",
                               f"{mb / r['process_wall_s'] / CORES:.2f}", f"{r['peak_total_gb']:.2f}",
                               f"{r['peak_driver_gb']:.2f}", f"{r['peak_worker_gb']:.2f}",
                               f"{r['peak_daemons_gb']:.2f}"))
            print(f"{copies}x: " + json.dumps(r["timings"]))
            sys.stdout.flush()
        if scale_rows:
            one = next((r for r in rows if r[:2] == ("wikipedia", "ours")), None)
            if one:  # the 1x row is the Wikipedia run of `ours` above, when it ran
                scale_rows.insert(0, ("1x", *one[2:]))
            print()
            table(scale_rows, ("scale", "input MB", "docs out", "wall s", "MB/s/core", "peak GB", "driver GB",
                               "worker GB", "Ray daemons GB"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
    else:
        main()

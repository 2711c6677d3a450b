"""The curation workflow: read -> your stages -> exact and fuzzy dedup -> write, on any NeMo Curator executor.

Pass 1 runs a Curator Pipeline (reader, the configured modifiers and filters, an exact-hash stage, a MinHash stage)
and writes the survivors to Parquet under DIR/_work/. The duplicate finders, Curator stages on a worker (never on the
driver), then read only what they need of the whole corpus (keys, hashes, band keys) and write the duplicate tables,
and pass 2 (another Curator Pipeline) drops the duplicates and writes the curated documents. Every stage writes what
it drops to the rejects; at the end, documents read = curated + rejected is checked and written to DIR/stats.json, and
DIR/report.html shows the run to a person.

Nothing half-done looks done: a run writes everything under DIR/_work/ and commits at the end (curated/ and rejects/
moved into DIR, then stats.json, report.html and the dataset card README.md, then the marker DIR/_SUCCESS, as Spark
and Hadoop do). A killed or failed run leaves no _SUCCESS, and a new run into that folder refuses, saying what to do.

What a user sets is `CurationConfig` (curate_config.py, the schema of conf/curate/config.yaml); this module runs it.
Nothing here imports NeMo Curator (and so Ray) at import time: Ray reads its settings when it is imported, and `run`
sets them first.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from canto_nemo.curator_stages.curate_config import EXECUTORS, CurationConfig, compose
from canto_nemo.curator_stages.ray_env import PrivateRay, configure_ray, one_ray_job

SUCCESS = "_SUCCESS"


class CurationWorkflow:
    """Runs one curation: `CurationWorkflow(config)`, or `CurationWorkflow(input=..., output=..., pack=...)` with the
    fields of `CurationConfig` (curate_config.py), which is what a user sets; this class holds what a run makes."""

    def __init__(self, config: CurationConfig | None = None, **options: Any) -> None:
        if config is not None and options:
            raise TypeError("give a CurationConfig or its fields, not both")
        self.config = config if config is not None else CurationConfig(**options)
        out = Path(self.config.output)
        self.paths = {name: str(out / name) for name in ("curated", "rejects", "_work")}
        self.paths["staged_curated"] = str(out / "_work" / "curated")  # committed to curated/ at the end
        self.paths["staged_rejects"] = str(out / "_work" / "rejects")
        self.paths["filtered"] = str(out / "_work" / "filtered")
        self.paths["counts"] = str(out / "_work" / "read_counts")
        self.paths["duplicates"] = str(out / "_work" / "exact_duplicates.parquet")
        self.paths["near_duplicates"] = str(out / "_work" / "near_duplicates.parquet")
        self.paths["rapids"] = str(out / "_work" / "rapids")  # fuzzy_backend=nemo_curator's input and cache
        self.timings: dict = {"stages_s": {}}  # into stats.json: where the time went

    @classmethod
    def from_config(cls, cfg) -> CurationWorkflow:
        """From a composed conf/curate config (`compose`): see `CurationConfig.from_config`."""
        return cls(CurationConfig.from_config(cfg))

    @classmethod
    def run_config(cls, cfg) -> dict:
        """What `canto-nemo curate` runs: `from_config(cfg).run()`, with the local Ray head started first, so that it
        comes up (4-5 s here) while the stages are built and the inputs checked."""
        from omegaconf import OmegaConf

        address, verbose = OmegaConf.select(cfg, "ray.address"), bool(OmegaConf.select(cfg, "verbose"))
        configure_ray(address, verbose)
        with PrivateRay(address, verbose) as ray:
            return cls.from_config(cfg).run(ray)

    def stage_names(self) -> list[str]:
        dedup = ["exact_dedup"] * self.config.exact_dedup + ["fuzzy_dedup"] * self.config.fuzzy_dedup
        return ["read", *self.config.stages, *dedup]

    def run(self, ray: PrivateRay | None = None) -> dict:
        """ray: a local Ray head the caller started already (`run_config`, which the CLI calls, starts one before the
        stages are built, so that it comes up meanwhile: it takes 4-5 s here); by default the run starts its own,
        after checking its inputs."""
        from canto_nemo.curator_stages.readers import expand_inputs

        c = self.config
        configure_ray(c.ray.address, c.verbose)  # says so if it comes too late (Ray imported before it)
        started = time.time()
        files = expand_inputs(c.input)  # a missing input fails here, before the run's own Ray starts
        middle = self._middle()  # and a stage that is not one
        self._prepare_output()
        # The head comes up while the run reads its inputs' sizes; both passes run in one Ray job (one_ray_job).
        with ray or PrivateRay(c.ray.address, c.verbose) as ray, one_ray_job(c.executor == "ray_data"):
            return self._run_passes(files, middle, ray, started)

    def _run_passes(self, files: list, middle: list, ray: PrivateRay, started: float) -> dict:
        from canto_nemo.curator_stages.progress import ReadProgress, say

        total = sum(os.path.getsize(path) for path, source in files if path != source or Path(path).is_file())
        say(f"{len(files)} input file(s), {total / 1e6:,.1f} MB -> {self.config.output}")
        self.timings = {"stages_s": {}}
        try:
            waited = time.time()
            ray.wait()
            self.timings["ray_start_wait_s"] = round(time.time() - waited, 2)
            with ReadProgress(self.paths["counts"], total):
                partitioner, reader = self._reader()
                if self.config.dedups:
                    self._step("pass 1/2: read, clean, filter, hash", [
                        partitioner, *self._fused([reader, *middle, *self._hashing()]),
                        self._parquet(self.paths["filtered"])])
                else:
                    finish = self._finish()
                    self._step("pass 1/1: read, clean, filter, write",
                               [partitioner, *self._fused([reader, *middle, *finish[:-1]]), finish[-1]])
            if self.config.dedups:
                between = time.time()
                parts = non_empty_parts(self.paths["filtered"])
                if parts:  # a corpus that filtering emptied has nothing to dedup
                    pass2 = self._identify_and_remove(parts)
                    self.timings["between_passes_s"] = round(time.time() - between, 2)
                    self._step("pass 2/2: remove duplicates, write", pass2)
        except Exception as err:
            explain_write_error(err, self.config.output)
            raise
        stats = self._commit(time.time() - started)
        say(f"documents in {stats['documents_in']:,} = curated {stats['documents_out']:,} + rejected "
            f"{stats['documents_rejected']:,}: {'reconciled' if stats['reconciled'] else 'NOT RECONCILED'} "
            f"({stats['elapsed_s']} s)")
        return stats

    def _step(self, title: str, stages: list, initial_tasks: list | None = None) -> None:
        from canto_nemo.curator_stages.progress import say

        started = time.time()
        say(f"{title} ...")
        for name, seconds in self._run(stages, initial_tasks).items():
            self.timings["stages_s"][name] = round(self.timings["stages_s"].get(name, 0.0) + seconds, 2)
        self.timings[title.split(":")[0].replace(" ", "").replace("/", "_of_") + "_s"] = round(time.time() - started, 2)
        say(f"{title}: done in {time.time() - started:.1f} s")

    def _commit(self, elapsed_s: float) -> dict:
        """Counts what the run staged, then moves it into the output folder; _SUCCESS last."""
        from canto_nemo.curator_stages.report import write_report
        from canto_nemo.curator_stages.stats import collect_stats

        for staged in ("staged_curated", "staged_rejects"):
            Path(self.paths[staged]).mkdir(parents=True, exist_ok=True)  # an empty result has the same shape
        counting = time.time()
        stats = collect_stats(self.paths["staged_curated"], self.paths["staged_rejects"], self.stage_names(),
                              self.paths["counts"], elapsed_s, self.config.text_field)
        self.timings["collect_stats_s"] = round(time.time() - counting, 2)
        stats["timings"] = self.timings
        os.replace(self.paths["staged_curated"], self.paths["curated"])
        os.replace(self.paths["staged_rejects"], self.paths["rejects"])
        write_report(self.config.output, stats)
        self._write_card(stats)
        if not self.config.keep_work:
            shutil.rmtree(self.paths["_work"], ignore_errors=True)
        (Path(self.config.output) / SUCCESS).write_text(json.dumps({"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                                             "reconciled": stats["reconciled"]}) + "\n")
        return stats

    def _write_card(self, stats: dict) -> None:
        from canto_nemo.curator_stages.card import write_card
        from canto_nemo.curator_stages.language_pack import get_pack

        c = self.config
        write_card(c.output, stats, inputs=list(c.input), pack=get_pack(c.pack), licences=list(c.licence),
                   decontaminate=list(c.decontaminate), output_format=c.output_format)

    def _reader(self) -> list:
        from canto_nemo.curator_stages.readers import InputPartitioner, RecordReader

        c = self.config
        return [
            InputPartitioner(c.input, split_bytes=c.split_bytes, group_bytes=c.group_bytes),
            RecordReader(text_field=c.text_field, id_field=c.id_field, encoding=c.encoding,
                         records_per_batch=c.batch_size, rejects_path=self.paths["staged_rejects"],
                         counts_path=self.paths["counts"]),
        ]

    def _middle(self) -> list:
        return [as_stage(name, obj, self.config.text_field, self.paths["staged_rejects"])
                for name, obj in self.config.stages.items()]

    def _finish(self) -> list:
        """The user's fields and ours, nothing internal, into the curated folder."""
        from canto_nemo.curator_stages.dedup import DropInternalColumns

        return [DropInternalColumns(), self._writer()]

    def _hashing(self) -> list:
        from canto_nemo.curator_stages.dedup import ExactHashStage
        from canto_nemo.curator_stages.fuzzy_dedup import MinHashStage

        c = self.config
        hashing = [ExactHashStage(c.text_field)] * c.exact_dedup
        if c.fuzzy_dedup and c.fuzzy_backend == "torch":
            hashing.append(MinHashStage(c.fuzzy, pack=c.pack, text_field=c.text_field, device=c.device))
        return hashing

    def _identify_and_remove(self, parts: list[str]) -> list:
        """Finds the duplicates over the whole corpus (pass 1's Parquet `parts`) with Curator stages, on a worker:
        their tables never live on the driver; returns pass 2, which removes them and writes."""
        import pyarrow.parquet as pq
        from nemo_curator.stages.text.io.reader.parquet import ParquetReaderStage
        from nemo_curator.tasks import FileGroupTask

        from canto_nemo.curator_stages.dedup import DuplicateRemover, ExactDuplicateFinder, duplicate_keys
        from canto_nemo.curator_stages.fuzzy_dedup import FuzzyDuplicateFinder
        from canto_nemo.curator_stages.fuzzy_dedup_rapids import find_fuzzy_duplicates_rapids
        from canto_nemo.curator_stages.progress import say
        from canto_nemo.curator_stages.readers import ParquetGroups

        c = self.config
        rejects = self.paths["staged_rejects"]
        exact = self.paths["duplicates"] if c.exact_dedup else None
        finders = [ExactDuplicateFinder(exact, c.id_field)] * c.exact_dedup
        if c.fuzzy_dedup and c.fuzzy_backend == "torch":
            finders.append(FuzzyDuplicateFinder(c.fuzzy, self.paths["near_duplicates"], exact, c.id_field))
        if finders:
            self._step("dedup: find duplicates", finders,
                       [FileGroupTask(dataset_name="dedup", data=parts)])
        removers = []
        if c.exact_dedup:
            say(f"exact duplicates: {pq.ParquetFile(exact).metadata.num_rows:,}")
            removers.append(DuplicateRemover(exact, rejects_path=rejects))
        if c.fuzzy_dedup:
            if c.fuzzy_backend == "nemo_curator":  # NeMo Curator's own workflow, which spreads its tables itself
                from canto_nemo.curator_stages.dedup import with_survivor_ids

                near = find_fuzzy_duplicates_rapids(self.paths["filtered"], self.paths["rapids"], c.fuzzy,
                                                    c.ray.address, c.pack, c.text_field,
                                                    duplicate_keys(exact) if exact else set())
                with_survivor_ids(near, parts, c.id_field).to_parquet(self.paths["near_duplicates"], index=False)
            say(f"near duplicates: {pq.ParquetFile(self.paths['near_duplicates']).metadata.num_rows:,}")
            detail = (f"near duplicate of {{duplicate_of}} (MinHash estimate of Jaccard similarity >= "
                      f"{c.fuzzy.threshold} over character {c.fuzzy.ngram}-grams)")
            removers.append(DuplicateRemover(self.paths["near_duplicates"], rejects_path=rejects,
                                             reason="near_duplicate", detail=detail, name="fuzzy_dedup"))
        finish = self._finish()
        return [ParquetGroups(parts, c.split_bytes), ParquetReaderStage(), *self._fused(removers + finish[:-1]),
                *finish[-1:]]

    def _fused(self, stages: list) -> list:
        from canto_nemo.curator_stages.fused import fuse

        return fuse(stages) if self.config.fuse else stages

    def _prepare_output(self) -> None:
        from canto_nemo.common.outputs import prepare_output_dir

        out = Path(self.config.output)
        if not self.config.overwrite and (out / "_work").is_dir() and not (out / SUCCESS).exists():
            msg = (f"output folder {out} holds an unfinished run (no {SUCCESS}: it was killed or failed); pass "
                   "overwrite=true to start it again, or choose another folder")
            raise FileExistsError(msg)
        prepare_output_dir(self.config.output, self.config.overwrite)

    def _writer(self):
        if self.config.output_format == "parquet":
            return self._parquet(self.paths["staged_curated"])
        from nemo_curator.stages.text.io.writer import JsonlWriter

        return JsonlWriter(self.paths["staged_curated"])

    @staticmethod
    def _parquet(path: str):
        from nemo_curator.stages.text.io.writer import ParquetWriter

        return ParquetWriter(path)

    def _run(self, stages: list, initial_tasks: list | None = None) -> dict[str, float]:
        """Runs a pipeline (from `initial_tasks`, or from its source stage); returns its stages' processing seconds
        (NeMo Curator's own per-stage metrics, summed over the tasks that reached the end)."""
        from nemo_curator.pipeline import Pipeline

        from canto_nemo.curator_stages.ray_env import quiet_ray_driver

        quiet_ray_driver(self.config.verbose)
        tasks = Pipeline(name="canto-nemo-curate", stages=stages).run(make_executor(self.config.executor),
                                                                      initial_tasks=initial_tasks) or []
        # A batch that fans out (the reader's) gives every output the same stats; after Ray has copied the tasks
        # they are equal rather than identical, so they are counted once by value (Curator's TaskPerfUtils counts
        # them once by identity).
        seen, seconds = set(), {}
        for task in tasks:
            for perf in getattr(task, "_stage_perf", None) or []:
                key = (perf.stage_name, perf.process_time, perf.input_data_size_mb, perf.num_items_processed)
                if key not in seen:
                    seen.add(key)
                    seconds[perf.stage_name] = seconds.get(perf.stage_name, 0.0) + perf.process_time
        return seconds


def explain_write_error(err: BaseException, output: str) -> None:
    """A full disk or an unwritable output, wherever in the engines it surfaced (a Ray worker's error reaches the
    driver as text), as one error naming the path."""
    import errno

    reasons = {errno.ENOSPC: "No space left on device", errno.EROFS: "Read-only file system",
               errno.EACCES: "Permission denied", errno.EDQUOT: "Disk quota exceeded"}
    seen, current = set(), err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in reasons:
            raise OSError(current.errno, f"cannot write the run's output ({current.filename or output}): "
                                         f"{current.strerror}") from None
        current = current.__cause__ or current.__context__ or getattr(current, "cause", None)
    text = str(err)
    for code, reason in reasons.items():
        if reason in text:
            raise OSError(code, f"cannot write the run's output ({output}): {reason}") from None


def non_empty_parts(folder: str) -> list[str]:
    """Pass 1's Parquet files that hold documents (a task whose documents were all dropped writes an empty one, which
    NeMo Curator's Parquet reader refuses)."""
    import pyarrow.parquet as pq

    return [str(p) for p in sorted(Path(folder).glob("*.parquet")) if pq.ParquetFile(p).metadata.num_rows > 0]


def make_executor(name: str):
    if name == "ray_data":
        from nemo_curator.backends.ray_data import RayDataExecutor

        return RayDataExecutor()
    if name == "xenna":
        from nemo_curator.backends.xenna import XennaExecutor

        return XennaExecutor(config={"execution_mode": "batch"})  # streaming mode cannot size itself on 2 cores
    if name == "ray_actor_pool":
        from nemo_curator.backends.ray_actor_pool import RayActorPoolExecutor

        return RayActorPoolExecutor()
    msg = f"unknown executor {name!r}: use one of {EXECUTORS}"
    raise ValueError(msg)


def as_stage(name: str, obj: object, text_field: str, rejects_path: str):
    """A configured object as a Curator stage: modifiers in Modify, filters in ScoreFilterWithRejects (their score in
    the column `<name>_score`), stages as they are (a filter stage of ours writes its rejects to `rejects_path`)."""
    from nemo_curator.stages.base import ProcessingStage
    from nemo_curator.stages.text.filters import DocumentFilter
    from nemo_curator.stages.text.modifiers import DocumentModifier, Modify

    from canto_nemo.curator_stages.rejects import FilterWithRejects, ScoreFilterWithRejects

    if isinstance(obj, DocumentModifier):
        return Modify(obj, input_fields=text_field).with_(name=name)
    if isinstance(obj, DocumentFilter):
        return ScoreFilterWithRejects(obj, text_field=text_field, score_field=f"{name}_score", name=name,
                                      rejects_path=rejects_path)
    if isinstance(obj, FilterWithRejects | ScoreFilterWithRejects):
        if obj.rejects_path is None:
            obj.rejects_path = rejects_path
        obj.name = name
        return obj
    if isinstance(obj, ProcessingStage):
        return obj.with_(name=name) if obj.name != name else obj
    msg = (f"stage {name!r} is a {type(obj).__name__}: expected a DocumentModifier, DocumentFilter or ProcessingStage "
           "(a config's stage needs a _target_)")
    raise ValueError(msg)


__all__ = ["CurationConfig", "CurationWorkflow", "compose"]  # compose: where the CLI and tests find it

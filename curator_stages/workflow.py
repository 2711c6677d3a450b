"""The curation workflow: read -> your stages -> exact and fuzzy dedup -> write, on any NeMo Curator executor.

Pass 1 runs a Curator Pipeline (reader, the configured modifiers and filters, an exact-hash stage, a MinHash stage)
and writes the survivors to Parquet under DIR/_work/. The duplicate finders then read only what they need of the
whole corpus (ids, hashes, band keys), and pass 2 (another Curator Pipeline) drops the duplicates and writes
DIR/curated/. Every stage writes what it drops to
DIR/rejects/; at the end, documents read = curated + rejected is checked and written to DIR/stats.json, and
DIR/report.html shows the run to a person.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from loguru import logger
from nemo_curator.pipeline import Pipeline
from nemo_curator.stages.base import ProcessingStage
from nemo_curator.stages.text.filters import DocumentFilter
from nemo_curator.stages.text.io.reader import ParquetReader
from nemo_curator.stages.text.io.writer import JsonlWriter, ParquetWriter
from nemo_curator.stages.text.modifiers import DocumentModifier, Modify

from curator_stages.dedup import DuplicateRemover, ExactHashStage, find_exact_duplicates
from curator_stages.fuzzy_dedup import MinHashStage, find_fuzzy_duplicates
from curator_stages.fuzzy_dedup_rapids import check_backend, find_fuzzy_duplicates_rapids
from curator_stages.minhash import MinHashConfig
from curator_stages.ray_env import configure_ray
from curator_stages.readers import InputPartitioner, RecordReader, expand_inputs
from curator_stages.rejects import ScoreFilterWithRejects
from curator_stages.report import write_report
from curator_stages.stats import collect_stats

EXECUTORS = ("ray_data", "xenna", "ray_actor_pool")


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


def as_stage(name: str, obj: object, text_field: str, rejects_path: str) -> ProcessingStage:
    """A configured object as a Curator stage: modifiers in Modify, filters in ScoreFilterWithRejects."""
    if isinstance(obj, DocumentModifier):
        return Modify(obj, input_fields=text_field).with_(name=name)
    if isinstance(obj, DocumentFilter):
        return ScoreFilterWithRejects(obj, text_field=text_field, name=name, rejects_path=rejects_path)
    if isinstance(obj, ProcessingStage):
        return obj
    msg = f"stage {name!r} is a {type(obj).__name__}: expected a DocumentModifier, DocumentFilter or ProcessingStage"
    raise TypeError(msg)


@dataclass
class CurationWorkflow:
    """Curates `inputs` into `output`. `stages` maps stage names to modifiers, filters or Curator stages, in order."""

    inputs: list[str]
    output: str
    stages: dict[str, object] = field(default_factory=dict)
    text_field: str = "text"
    exact_dedup: bool = True
    fuzzy_dedup: MinHashConfig | None = None
    fuzzy_backend: str = "torch"  # or "nemo_curator": NeMo Curator's RAPIDS workflow (fuzzy_dedup_rapids.py)
    device: str = "auto"
    output_format: str = "jsonl"
    batch_size: int = 5000
    split_bytes: int = 256 * 1024 * 1024
    executor: str = "ray_data"
    ray_address: str | None = None
    overwrite: bool = False
    keep_work: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.inputs, str):
            self.inputs = [self.inputs]
        if self.output_format not in ("jsonl", "parquet"):
            msg = f"output_format must be jsonl or parquet, not {self.output_format!r}"
            raise ValueError(msg)
        if self.fuzzy_dedup is not None:
            # before Ray starts, as every other configuration error
            check_backend(self.fuzzy_backend, self.fuzzy_dedup, self.ray_address)
        out = Path(self.output)
        self.paths = {name: str(out / name) for name in ("curated", "rejects", "_work")}
        self.paths["filtered"] = str(out / "_work" / "filtered")
        self.paths["counts"] = str(out / "_work" / "read_counts")
        self.paths["duplicates"] = str(out / "_work" / "exact_duplicates.parquet")
        self.paths["near_duplicates"] = str(out / "_work" / "near_duplicates.parquet")
        self.paths["rapids"] = str(out / "_work" / "rapids")  # fuzzy_backend=nemo_curator's input and cache

    def stage_names(self) -> list[str]:
        dedup = ["exact_dedup"] * self.exact_dedup + ["fuzzy_dedup"] * (self.fuzzy_dedup is not None)
        return ["read", *self.stages, *dedup]

    def run(self) -> dict:
        started = time.time()
        files = expand_inputs(self.inputs)  # a missing input fails here, before Ray starts
        self._prepare_output()
        logger.info(f"curating {len(files)} input file(s) into {self.output}")
        configure_ray(self.ray_address)

        reader = [
            InputPartitioner(self.inputs, split_bytes=self.split_bytes),
            RecordReader(text_field=self.text_field, batch_size=self.batch_size, rejects_path=self.paths["rejects"],
                         counts_path=self.paths["counts"]),
        ]
        middle = [as_stage(name, obj, self.text_field, self.paths["rejects"]) for name, obj in self.stages.items()]
        if self.exact_dedup or self.fuzzy_dedup is not None:
            logger.info("pass 1/2: read, modify, filter and hash")
            hashing = [ExactHashStage(self.text_field)] * self.exact_dedup
            if self.fuzzy_dedup is not None and self.fuzzy_backend == "torch":
                hashing.append(MinHashStage(self.fuzzy_dedup, text_field=self.text_field, device=self.device))
            self._run(reader + middle + hashing + [ParquetWriter(self.paths["filtered"])])
            self._run(self._identify_and_remove())
        else:
            logger.info("pass 1/1: read, modify, filter and write")
            self._run(reader + middle + [self._writer()])

        stats = collect_stats(self.output, self.stage_names(), self.paths["counts"], time.time() - started)
        write_report(self.output, stats)
        if not self.keep_work:
            shutil.rmtree(self.paths["_work"], ignore_errors=True)
        level = "info" if stats["reconciled"] else "error"
        getattr(logger, level)(
            f"documents in {stats['documents_in']} = curated {stats['documents_out']} + rejected "
            f"{stats['documents_rejected']}: {'reconciled' if stats['reconciled'] else 'NOT RECONCILED'}"
        )
        return stats

    def _identify_and_remove(self) -> list[ProcessingStage]:
        """Finds the duplicates over the whole corpus; returns pass 2, which removes them and writes."""
        removers: list[ProcessingStage] = []
        exact_ids: set[str] = set()
        if self.exact_dedup:
            duplicates = find_exact_duplicates(self.paths["filtered"])
            duplicates.to_parquet(self.paths["duplicates"], index=False)
            exact_ids = set(duplicates["id"])
            logger.info(f"found {len(duplicates)} exact duplicate(s)")
            removers.append(DuplicateRemover(self.paths["duplicates"], rejects_path=self.paths["rejects"]))
        if self.fuzzy_dedup is not None:
            if self.fuzzy_backend == "nemo_curator":
                near = find_fuzzy_duplicates_rapids(self.paths["filtered"], self.paths["rapids"], self.fuzzy_dedup,
                                                    self.ray_address, self.text_field, exact_ids)
            else:
                near = find_fuzzy_duplicates(self.paths["filtered"], self.fuzzy_dedup, exclude=exact_ids)
            near.to_parquet(self.paths["near_duplicates"], index=False)
            logger.info(f"found {len(near)} near duplicate(s)")
            removers.append(DuplicateRemover(self.paths["near_duplicates"], rejects_path=self.paths["rejects"],
                                             reason="near_duplicate", name="fuzzy_dedup"))
        logger.info("pass 2/2: remove duplicates and write")
        return [ParquetReader(self.paths["filtered"]), *removers, self._writer()]

    def _prepare_output(self) -> None:
        out = Path(self.output)
        if out.exists() and any(out.iterdir()):
            if not self.overwrite:
                msg = f"output folder {out} is not empty: choose another or pass overwrite=true"
                raise FileExistsError(msg)
            for name in ("curated", "rejects", "_work", "stats.json", "report.html"):
                target = out / name
                shutil.rmtree(target, ignore_errors=True) if target.is_dir() else target.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)

    def _writer(self) -> ProcessingStage:
        return (JsonlWriter if self.output_format == "jsonl" else ParquetWriter)(self.paths["curated"])

    def _run(self, stages: list[ProcessingStage]) -> None:
        Pipeline(name="canto-nemo-curate", stages=stages).run(make_executor(self.executor))

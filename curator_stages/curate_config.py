"""What a user sets for a curation run: `CurationConfig`, the schema of conf/curate/config.yaml (`curate_schema`).

Its fields are the options of `canto-nemo curate` and their defaults, in this one place; `CurationWorkflow`
(workflow.py) runs one. Checking a config fails early, before Ray starts: a missing input or output, an unknown
format or executor, a fuzzy-dedup backend this machine cannot run. Nothing here imports NeMo Curator (and so Ray) at
import time: Ray reads its settings when it is imported, and `from_config` sets them first.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from canto_nemo.curator_stages.minhash import MinHashConfig
from canto_nemo.curator_stages.ray_env import configure_ray

EXECUTORS = ("ray_data", "xenna", "ray_actor_pool")
OUTPUT_FORMATS = ("jsonl", "parquet")


@dataclass
class RayConfig:
    address: str | None = None  # None: a private Ray on 127.0.0.1; "HOST:PORT" joins a running cluster


@dataclass
class CurationConfig:
    """Curate `input` into `output`. `stages` maps stage names to modifiers, filters or Curator stages, in order
    (from a config: specs with `_target_`, built by `from_config`)."""

    input: Any = "???"  # a path, a folder, SCHEME:NAME (a pack's packaged corpus), or a list of them
    output: str = "???"  # DIR: curated/, rejects/, stats.json, report.html
    pack: str = "???"  # the language pack: its name (the stages of a config take it by interpolation)
    stages: dict[str, Any] = field(default_factory=dict)
    dialect: dict[str, Any] = field(default_factory=dict)  # the policy values conf/curate/dialect/ puts here
    decontaminate: list[str] = field(default_factory=list)  # evaluation sets (files, folders) the pipeline's
    # decontamination stage drops overlaps with
    licence: list[str] = field(default_factory=list)  # one per input, in order, for the dataset card (README.md);
    # an input without one gets its pack's or its LICENSE/README's, else "unknown"
    text_field: str = "text"  # JSONL/Parquet field (TSV column) holding the text
    id_field: str = "id"  # the field holding a record's id; made ("<file>:<line>") only where a record has none
    encoding: str = "utf-8"  # of the line-oriented input files (e.g. big5hkscs, gb18030)
    output_format: str = "jsonl"  # jsonl | parquet
    exact_dedup: bool = True
    fuzzy_dedup: bool = True  # MinHash-LSH near-duplicate removal with `fuzzy`
    fuzzy: MinHashConfig = field(default_factory=MinHashConfig)
    fuzzy_backend: str = "torch"  # torch (CUDA or CPU) | nemo_curator (NeMo Curator's RAPIDS workflow)
    device: str = "auto"  # MinHash on: auto (CUDA when torch sees a GPU) | cpu | cuda
    overwrite: bool = False  # a non-empty output folder is refused unless true
    keep_work: bool = False  # keep DIR/_work (pass-1 Parquet, duplicate tables) for inspection
    batch_size: int = 5000  # documents per Curator task
    # line-oriented files larger than this are read in ranges, each range read and curated in one task, in parallel
    split_bytes: int = 32 * 1024 * 1024
    # smaller files share a task up to this many bytes on disk; -1: sized to the cluster (about eight tasks per CPU,
    # none over split_bytes); 0: one task per file
    group_bytes: int = -1
    executor: str = "ray_data"  # ray_data | xenna | ray_actor_pool
    fuse: bool = True  # consecutive stages run as one engine stage (same output; false: one per stage, to debug)
    ray: RayConfig = field(default_factory=RayConfig)
    verbose: bool = False  # the engines' own logs (Ray, Ray Data, NeMo Curator) too, not just a line per step

    def __post_init__(self) -> None:
        for name in ("input", "output", "pack"):
            if getattr(self, name) in ("???", None, ""):
                msg = f"{name} is missing (e.g. input=posts.jsonl output=out/ pack=cantonese)"
                raise ValueError(msg)
        if isinstance(self.input, str):
            self.input = [self.input]
        if isinstance(self.fuzzy, dict):
            self.fuzzy = MinHashConfig(**self.fuzzy)
        if isinstance(self.ray, dict):
            self.ray = RayConfig(**self.ray)
        if self.output_format not in OUTPUT_FORMATS:
            msg = f"output_format must be one of {OUTPUT_FORMATS}, not {self.output_format!r}"
            raise ValueError(msg)
        if self.executor not in EXECUTORS:
            msg = f"executor must be one of {EXECUTORS}, not {self.executor!r}"
            raise ValueError(msg)
        if self.fuzzy_dedup:
            from canto_nemo.curator_stages.fuzzy_dedup_rapids import check_backend

            check_backend(self.fuzzy_backend, self.fuzzy, self.ray.address)  # before Ray starts

    @property
    def dedups(self) -> bool:
        return self.exact_dedup or self.fuzzy_dedup

    @classmethod
    def from_config(cls, cfg) -> CurationConfig:
        """From a composed conf/curate config: every `_target_` is checked before anything is imported from it, Ray
        is configured, then the stages are built."""
        from omegaconf import OmegaConf

        from canto_nemo.curator_stages.config import build, check_targets

        # before checking targets imports them (and Ray)
        configure_ray(OmegaConf.select(cfg, "ray.address"), bool(OmegaConf.select(cfg, "verbose")))
        check_targets(cfg, "config")
        values = OmegaConf.to_container(cfg, resolve=True)
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            msg = f"unknown option(s) {sorted(unknown)}: see `canto-nemo curate --help`"
            raise ValueError(msg)
        stages = values.pop("stages", None) or {}
        values["stages"] = {name: build(spec, f"stages.{name}") for name, spec in stages.items()}
        return cls(**values)


def compose(overrides: list[str]):
    """conf/curate/config.yaml with Hydra `key=value` overrides, checked against the CurationConfig schema."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="curate_schema", node=CurationConfig)
    with initialize_config_module(config_module="canto_nemo.conf.curate", version_base=None):
        return hydra_compose(config_name="config", overrides=list(overrides))

"""NeMo 2.0 recipes for Cantonese: `cantonese_pretrain`, `cantonese_cpt`, `cantonese_sft`, built on NeMo's own.

Each starts from NeMo's per-model recipe (`llm.qwen25_500m.pretrain_recipe(...)`, `llm.llama32_1b.finetune_recipe(
peft_scheme=...)`, ...) with NeMo's typed arguments (`dir`, `name`, `num_nodes`, `num_gpus_per_node`, `fn`), so it
inherits NeMo's trainer, DDP config, precision plugin, optimizer (clipping included), logging and resume, and overrides
only what is ours (`OURS` lists each field and why): the data and its tokenizer, the vocabulary that follows from it,
the restore path, the schedule. The from-scratch sizes (tiny, small_125m) are Llama-3.2-1B's recipe with a smaller
model config. Registered through the `nemo_run.cli` entry point (pyproject.toml), so after `pip install`:

    nemo llm pretrain --factory cantonese_pretrain --dryrun -y
    nemo llm pretrain --factory "cantonese_cpt(num_nodes=2, num_gpus_per_node=8)" trainer.max_steps=500 -y
    nemo llm finetune --factory "cantonese_sft(peft_scheme='none')" -y

Our choices are Hydra groups in conf/recipe/ (model, data, schedule), picked by argument (`model="small_125m"`) or by
`overrides` (any Hydra override, e.g. "schedule.max_lr=1e-4 data.global_batch_size=64"). The YAML names NeMo recipe
modules and values only, never code. `data="blend:FILE"` (or the override data.blend_file=FILE) takes the train
and validation paths from a `canto-nemo blend` file, read when the recipe is built; otherwise building reads no
file. `fn` (default: NeMo's llm.pretrain / llm.finetune after our pre-launch checks, `canto_nemo.recipes.launch`)
runs at launch, never in a dry run.
"""
# No `from __future__ import annotations` here: NeMo-Run parses factory arguments by their (real) annotations.

from collections.abc import Callable
from typing import Optional

import fiddle as fdl
import nemo_run as run
from nemo import lightning as nl
from nemo.collections import llm
from nemo.collections.common.tokenizers.huggingface.auto_tokenizer import AutoTokenizer

from canto_nemo.recipes import launch

# NeMo recipe modules a conf/recipe/model/*.yaml may name.
NEMO_RECIPES = ("llama32_1b", "llama32_3b", "qwen25_500m", "qwen25_1p5b", "qwen25_7b")

# The fields of NeMo's recipe that ours sets, and why (the parity test holds us to exactly these).
OURS = {
    "data": "our Megatron datasets (or chat JSONL for SFT) and tokenizer, from conf/recipe/data/",
    "model.tokenizer": "our tokenizer (trained, or extended from the base model's)",
    "model.config.vocab_size": "None: NeMo pads our tokenizer's vocabulary (the base model's would not fit it)",
    "model.config.seq_length": "the data's sequence length (conf/recipe/data/), which model and data must share",
    "model.config.*": "the from-scratch sizes set the shape of Llama-3.2-1B's config (conf/recipe/model/)",
    "trainer.max_steps": "schedule (conf/recipe/schedule/)",
    "trainer.val_check_interval": "schedule",
    "trainer.limit_val_batches": "schedule",
    "trainer.limit_test_batches": "schedule",
    "trainer.log_every_n_steps": "schedule",
    "optim.config.lr": "schedule: max_lr",
    "optim.config.weight_decay": "schedule",
    "optim.lr_scheduler.warmup_steps": "schedule",
    "optim.lr_scheduler.min_lr": "schedule",
    "resume.restore_config": "continued pretraining and SFT start from our base checkpoint (embeddings resized)",
    "trainer.strategy.tensor_model_parallel_size": "only when given as an argument",
    "trainer.strategy.pipeline_model_parallel_size": "only when given as an argument",
    "trainer.strategy.context_parallel_size": "only when given as an argument",
    "trainer.strategy.sequence_parallel": "only when given as an argument",
    "__fn_or_cls__": "fn: NeMo's llm.pretrain / llm.finetune after our pre-launch checks",
}


def compose(config: str, overrides: list[str] | str | None = None):
    """conf/recipe/<config>.yaml with Hydra `key=value` overrides (a list, or one space-separated string)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    if isinstance(overrides, str):
        overrides = overrides.split()
    with initialize_config_module(config_module="canto_nemo.conf.recipe", version_base=None):
        return hydra_compose(config_name=config, overrides=list(overrides or []))


def _nemo_recipe(cfg):
    name = cfg.model.recipe
    if name not in NEMO_RECIPES:
        raise ValueError(f"model.recipe={name!r} is not one of NeMo's recipes {NEMO_RECIPES}")
    return getattr(llm, name)


def _tokenizer(path: str) -> run.Config:
    return run.Config(AutoTokenizer, pretrained_model_name=str(path), use_fast=True)


def _ours(recipe: run.Partial, cfg, parallelism: dict) -> None:
    """Sets on NeMo's recipe exactly the fields OURS names."""
    model = recipe.model.config
    for key, value in (cfg.model.config or {}).items():
        setattr(model, key, value)
    model.vocab_size = None
    model.seq_length = cfg.data.seq_length
    recipe.model.tokenizer = _tokenizer(cfg.data.tokenizer)
    strategy = recipe.trainer.strategy
    for key, value in parallelism.items():
        if value is not None:
            setattr(strategy, key, value)
    s = cfg.schedule
    recipe.trainer.max_steps = s.max_steps
    recipe.trainer.val_check_interval = s.val_check_interval
    recipe.trainer.limit_val_batches = s.limit_val_batches
    recipe.trainer.limit_test_batches = s.limit_val_batches
    recipe.trainer.log_every_n_steps = s.log_every_n_steps
    recipe.optim.config.lr = s.max_lr
    recipe.optim.config.weight_decay = s.weight_decay
    recipe.optim.lr_scheduler.warmup_steps = s.warmup_steps
    recipe.optim.lr_scheduler.min_lr = s.min_lr
    if cfg.get("base_checkpoint"):
        recipe.resume.restore_config = run.Config(nl.RestoreConfig, path=str(cfg.base_checkpoint))


def _pretraining_data(d) -> run.Config:
    if d.get("blend_file"):  # `canto-nemo blend`'s file replaces the group's blend and validation
        from canto_nemo.recipes.blend import load_paths

        paths = {split: [str(x) for x in value] for split, value in load_paths(str(d.blend_file)).items()}
    else:
        train = [x for entry in d.blend for x in (str(entry.weight), str(entry.prefix))]
        validation = [str(p) for p in d.validation]
        paths = {"train": train, "validation": validation, "test": validation}
    return run.Config(llm.PreTrainingDataModule, paths=paths,
                      seq_length=d.seq_length, micro_batch_size=d.micro_batch_size,
                      global_batch_size=d.global_batch_size, tokenizer=_tokenizer(d.tokenizer),
                      num_workers=d.num_workers)


def _chat_data(d) -> run.Config:
    return run.Config(llm.ChatDataModule, dataset_root=str(d.dataset_root), seq_length=d.seq_length,
                      micro_batch_size=d.micro_batch_size, global_batch_size=d.global_batch_size,
                      tokenizer=_tokenizer(d.tokenizer), num_workers=d.num_workers,
                      use_hf_tokenizer_chat_template=True)


def _composed(config: str, model: str | None, data: str | None, schedule: str | None, demo_dir: str | None,
              overrides: str):
    blend_file = []
    if data is not None and data.startswith("blend:"):  # the default data group, with a blend file's paths
        data, blend_file = None, [f"data.blend_file={data.removeprefix('blend:')}"]
    chosen = [f"{k}={v}" for k, v in (("model", model), ("data", data), ("schedule", schedule),
                                      ("demo_dir", demo_dir)) if v is not None] + blend_file
    return compose(config, [*chosen, *overrides.split()])


def build_pretrain(cfg, dir=None, name=None, num_nodes=1, num_gpus_per_node=1, fn=None, **parallelism
                   ) -> run.Partial:
    """A composed conf/recipe pretrain/cpt config on NeMo's pretrain recipe of its model."""
    recipe = _nemo_recipe(cfg).pretrain_recipe(dir=dir, name=name or cfg.name, num_nodes=num_nodes,
                                               num_gpus_per_node=num_gpus_per_node, fn=fn or launch.pretrain)
    recipe.data = _pretraining_data(cfg.data)
    _ours(recipe, cfg, parallelism)
    return recipe


def _parallelism(tp, pp, cp, sp) -> dict:
    return {"tensor_model_parallel_size": tp, "pipeline_model_parallel_size": pp, "context_parallel_size": cp,
            "sequence_parallel": sp}


@run.cli.factory(target=llm.pretrain, name="cantonese_pretrain")
def cantonese_pretrain(
    dir: Optional[str] = None,  # noqa: UP045 (NeMo-Run parses these annotations)
    name: str = "cantonese_pretrain",
    num_nodes: int = 1,
    num_gpus_per_node: int = 1,
    model: str = "tiny",
    data: str = "demo_bpe8k",
    schedule: str = "smoke",
    demo_dir: Optional[str] = None,  # noqa: UP045
    tensor_parallelism: Optional[int] = None,  # noqa: UP045
    pipeline_parallelism: Optional[int] = None,  # noqa: UP045
    context_parallelism: Optional[int] = None,  # noqa: UP045
    sequence_parallelism: Optional[bool] = None,  # noqa: UP045
    overrides: str = "",
    fn: Callable = launch.pretrain,
) -> run.Partial:
    """Pretraining from scratch on curated Cantonese: model tiny (~10M), small_125m or llama32_1b (Llama-3.2-1B's
    recipe, our tokenizer's vocabulary); data and schedule from conf/recipe/; demo_dir: where the demo wrote."""
    cfg = _composed("pretrain", model, data, schedule, demo_dir, overrides)
    return build_pretrain(cfg, dir, name, num_nodes, num_gpus_per_node, fn,
                          **_parallelism(tensor_parallelism, pipeline_parallelism, context_parallelism,
                                         sequence_parallelism))


@run.cli.factory(target=llm.pretrain, name="cantonese_cpt")
def cantonese_cpt(
    dir: Optional[str] = None,  # noqa: UP045
    name: str = "cantonese_cpt",
    num_nodes: int = 1,
    num_gpus_per_node: int = 1,
    model: str = "qwen25_500m",
    data: str = "demo_qwen25_replay",
    schedule: str = "cpt",
    demo_dir: Optional[str] = None,  # noqa: UP045
    tensor_parallelism: Optional[int] = None,  # noqa: UP045
    pipeline_parallelism: Optional[int] = None,  # noqa: UP045
    context_parallelism: Optional[int] = None,  # noqa: UP045
    sequence_parallelism: Optional[bool] = None,  # noqa: UP045
    overrides: str = "",
    fn: Callable = launch.pretrain,
) -> run.Partial:
    """Continued pretraining of Qwen2.5 / Llama-3.2 (NeMo's recipe of the model) with the extended tokenizer, a
    replay blend, and the base checkpoint whose embeddings were resized to it (base_checkpoint in conf/recipe/cpt)."""
    cfg = _composed("cpt", model, data, schedule, demo_dir, overrides)
    return build_pretrain(cfg, dir, name, num_nodes, num_gpus_per_node, fn,
                          **_parallelism(tensor_parallelism, pipeline_parallelism, context_parallelism,
                                         sequence_parallelism))


def build_sft(cfg, dir=None, name=None, num_nodes=1, num_gpus_per_node=1, peft_scheme="lora", fn=None
              ) -> run.Partial:
    """A composed conf/recipe sft config on NeMo's finetune recipe of its model (LoRA, DoRA or full)."""
    recipe = _nemo_recipe(cfg).finetune_recipe(dir=dir, name=name or cfg.name, num_nodes=num_nodes,
                                               num_gpus_per_node=num_gpus_per_node, peft_scheme=peft_scheme)
    fdl.update_callable(recipe, fn or launch.finetune)
    recipe.data = _chat_data(cfg.data)
    lr = recipe.optim.config.lr  # NeMo's per-scheme learning rate (LoRA 1e-4, full 5e-6) unless the schedule says
    _ours(recipe, cfg, {})
    if cfg.schedule.max_lr is None:
        recipe.optim.config.lr = lr
    return recipe


@run.cli.factory(target=llm.finetune, name="cantonese_sft")
def cantonese_sft(
    dir: Optional[str] = None,  # noqa: UP045
    name: str = "cantonese_sft",
    num_nodes: int = 1,
    num_gpus_per_node: int = 1,
    peft_scheme: Optional[str] = "lora",  # noqa: UP045 (lora | dora | none, as NeMo's finetune recipes)
    model: str = "qwen25_500m",
    data: str = "sft_demo",
    schedule: str = "sft",
    demo_dir: Optional[str] = None,  # noqa: UP045
    overrides: str = "",
    fn: Callable = launch.finetune,
) -> run.Partial:
    """Chat-format SFT (LoRA by default) of the continued-pretrained model on an instruction JSONL folder
    (training.jsonl, validation.jsonl of {"messages": [...]}), formatted by the tokenizer's chat template."""
    cfg = _composed("sft", model, data, schedule, demo_dir, overrides)
    return build_sft(cfg, dir, name, num_nodes, num_gpus_per_node, peft_scheme, fn)

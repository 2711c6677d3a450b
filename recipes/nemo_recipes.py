"""NeMo 2.0 recipe factories for Cantonese: `cantonese_pretrain`, `cantonese_cpt`, `cantonese_sft`.

They have NeMo's own recipe shape (functions returning `run.Partial`, decorated with `@run.cli.factory`) and are
registered through the `nemo_run.cli` entry point (pyproject.toml), so after `pip install` these work:

    nemo llm pretrain --factory cantonese_pretrain --dryrun -y
    nemo llm pretrain --factory "cantonese_pretrain(overrides='model=small_125m')" trainer.max_steps=500
    nemo llm pretrain --factory cantonese_cpt ...      nemo llm finetune --factory cantonese_sft ...

Each is composed from the Hydra groups in conf/recipe/ (model, data, schedule, parallelism, logging). The YAML names
models and values only, never code: model classes come from the `MODELS` table below. The returned Partial calls
`recipes.launch`'s checked wrappers, which run the pre-launch checks and then NeMo's `llm.pretrain` / `llm.finetune`;
a dry run builds and prints the config without touching files or GPUs.
"""
# No `from __future__ import annotations` here: NeMo-Run parses factory arguments by their (real) annotations.



import nemo_run as run
from nemo import lightning as nl
from nemo.collections import llm
from nemo.collections.common.tokenizers.huggingface.auto_tokenizer import AutoTokenizer
from nemo.collections.llm.recipes.optim.adam import distributed_fused_adam_with_cosine_annealing
from nemo.collections.llm.recipes.precision.mixed_precision import bf16_mixed, fp16_mixed
from nemo.utils.exp_manager import TimingCallback

from recipes import launch
from recipes.tokenizer import metadata

# Model config names a YAML may use -> (model class, config class) in nemo.collections.llm.
MODELS = {
    "LlamaConfig": ("LlamaModel", "LlamaConfig"),
    "Llama32Config1B": ("LlamaModel", "Llama32Config1B"),
    "Llama32Config3B": ("LlamaModel", "Llama32Config3B"),
    "Qwen25Config500M": ("Qwen2Model", "Qwen25Config500M"),
    "Qwen25Config1P5B": ("Qwen2Model", "Qwen25Config1P5B"),
    "Qwen25Config7B": ("Qwen2Model", "Qwen25Config7B"),
}


def compose(config: str, overrides: list[str] | str | None = None):
    """The Hydra config conf/recipe/<config>.yaml with `key=value` overrides (a list, or one space-separated string)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module

    if isinstance(overrides, str):
        overrides = overrides.split()
    with initialize_config_module(config_module="conf.recipe", version_base=None):
        return hydra_compose(config_name=config, overrides=list(overrides or []))


def _tokenizer(path: str) -> run.Config:
    return run.Config(AutoTokenizer, pretrained_model_name=path, use_fast=True)


def _model(cfg) -> run.Config:
    name = cfg.model.config
    if name not in MODELS:
        raise ValueError(f"model.config={name!r} is not one of {sorted(MODELS)}")
    model_class, config_class = MODELS[name]
    values = dict(cfg.model.overrides or {})
    info = metadata(cfg.data.tokenizer)  # None when the folder is not there yet: a dry run must not need it
    if info is not None:
        # The embedding is sized from our tokenizer, padded as Megatron wants; the check at launch compares them.
        values["vocab_size"] = info["padded_vocab_size"]
    values.setdefault("seq_length", cfg.data.seq_length)
    config = run.Config(getattr(llm, config_class), **values)
    return run.Config(getattr(llm, model_class), config=config, tokenizer=_tokenizer(cfg.data.tokenizer))


def _trainer(cfg) -> run.Config:
    p, s = cfg.parallelism, cfg.schedule
    strategy = run.Config(
        nl.MegatronStrategy,
        tensor_model_parallel_size=p.tensor_parallel,
        pipeline_model_parallel_size=p.pipeline_parallel,
        context_parallel_size=p.context_parallel,
        sequence_parallel=p.sequence_parallel,
        gradient_as_bucket_view=True,
        ckpt_include_optimizer=True,
        ckpt_async_save=True,
        ckpt_parallel_load=True,
    )
    plugins = {"bf16-mixed": bf16_mixed, "16-mixed": fp16_mixed}.get(s.precision)
    return run.Config(
        nl.Trainer,
        accelerator="gpu",
        devices=p.gpus_per_node,
        num_nodes=p.num_nodes,
        strategy=strategy,
        plugins=plugins() if plugins else None,
        max_steps=s.max_steps,
        val_check_interval=s.val_check_interval,
        limit_val_batches=s.limit_val_batches,
        limit_test_batches=s.limit_val_batches,
        log_every_n_steps=s.log_every_n_steps,
        gradient_clip_val=s.gradient_clip_val,
        use_distributed_sampler=False,
        callbacks=[run.Config(TimingCallback)],
    )


def _pretraining_data(cfg) -> run.Config:
    d = cfg.data
    train = [x for entry in d.blend for x in (str(entry.weight), str(entry.prefix))]
    paths = {"train": train, "validation": [str(p) for p in d.validation], "test": [str(p) for p in d.validation]}
    return run.Config(
        llm.PreTrainingDataModule,
        paths=paths,
        seq_length=d.seq_length,
        micro_batch_size=d.micro_batch_size,
        global_batch_size=d.global_batch_size,
        tokenizer=_tokenizer(d.tokenizer),
        num_workers=d.num_workers,
    )


def _log(cfg) -> run.Config:
    lg = cfg.logging
    ckpt = run.Config(nl.ModelCheckpoint, save_last=True, save_top_k=lg.save_top_k,
                      every_n_train_steps=lg.save_every_n_steps,
                      filename="{model_name}--{val_loss:.2f}-{step}-{consumed_samples}")
    tensorboard = None
    if lg.tensorboard:
        from lightning.pytorch.loggers import TensorBoardLogger

        tensorboard = run.Config(TensorBoardLogger, save_dir="tb_logs", name=cfg.name)
    return run.Config(nl.NeMoLogger, name=cfg.name, log_dir=lg.dir, ckpt=ckpt, tensorboard=tensorboard)


def _optim(cfg) -> run.Config:
    s = cfg.schedule
    optim = distributed_fused_adam_with_cosine_annealing(
        precision=s.precision, warmup_steps=s.warmup_steps, max_lr=s.max_lr, min_lr=s.min_lr,
        clip_grad=s.gradient_clip_val,
    )
    optim.config.weight_decay = s.weight_decay
    return optim


def build(cfg) -> run.Partial:
    """A composed conf/recipe config -> the run.Partial that NeMo's CLI runs."""
    kind = cfg.kind
    if kind not in ("pretrain", "cpt", "sft"):
        raise ValueError(f"kind={kind!r}: expected pretrain, cpt or sft")
    common = {"model": _model(cfg), "trainer": _trainer(cfg), "log": _log(cfg), "optim": _optim(cfg)}
    # Continued pretraining and SFT start from the base checkpoint; a restart of any run resumes its own.
    restore = None if kind == "pretrain" else run.Config(nl.RestoreConfig, path=str(cfg.base_checkpoint))
    resume = run.Config(nl.AutoResume, restore_config=restore, resume_if_exists=True,
                        resume_ignore_no_checkpoint=True)
    if kind in ("pretrain", "cpt"):
        return run.Partial(launch.pretrain, data=_pretraining_data(cfg), resume=resume, **common)
    d = cfg.data
    data = run.Config(llm.ChatDataModule, dataset_root=str(d.dataset_root), seq_length=d.seq_length,
                      micro_batch_size=d.micro_batch_size, global_batch_size=d.global_batch_size,
                      tokenizer=_tokenizer(d.tokenizer), num_workers=d.num_workers,
                      use_hf_tokenizer_chat_template=True)
    return run.Partial(launch.finetune, data=data, resume=resume, peft=None, **common)


@run.cli.factory(target=llm.pretrain, name="cantonese_pretrain")
def cantonese_pretrain(config: str = "pretrain", overrides: str = "") -> run.Partial:
    """Pretraining from scratch (tiny model on the demo's data by default; model=small_125m or llama32_1b to grow)."""
    return build(compose(config, overrides))


@run.cli.factory(target=llm.pretrain, name="cantonese_cpt")
def cantonese_cpt(config: str = "cpt", overrides: str = "") -> run.Partial:
    """Continued pretraining of Qwen2.5 / Llama-3.2 with the extended tokenizer and a replay blend."""
    return build(compose(config, overrides))


@run.cli.factory(target=llm.finetune, name="cantonese_sft")
def cantonese_sft(config: str = "sft", overrides: str = "") -> run.Partial:
    """Chat-format SFT on an instruction JSONL folder."""
    return build(compose(config, overrides))



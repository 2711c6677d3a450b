"""`canto-nemo sweep`: NeMo's AutoConfigurator over one of our recipes, every candidate written as a runnable YAML.

AutoConfigurator (nemo.collections.llm.tools.auto_configurator) makes the grid of tensor / pipeline / context
parallel sizes and micro batch sizes that fit the cluster shape; this wrapper configures it from conf/sweep/, writes
each candidate as `DIR/<name>.yaml` (the recipe, the Hydra overrides that make the candidate, the `nemo llm pretrain`
command that runs it, and the resolved config; `canto-nemo sweep run` runs one too), a table
`DIR/candidates.md` with an estimate of memory per GPU and of time per run, and `DIR/sweep.json` (what `rank` needs).
After the candidates ran (their logs under `DIR/logs/<name>/`), `rank` has AutoConfigurator read the logs and rank them.
"""

from __future__ import annotations

import json
from pathlib import Path

FACTORY_CONFIGS = {"cantonese_pretrain": "pretrain", "cantonese_cpt": "cpt"}  # factory -> conf/recipe/<config>.yaml
FACTORIES = tuple(FACTORY_CONFIGS)


def compose_sweep(name: str = "default", overrides: list[str] | None = None):
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="canto_nemo.conf.sweep", version_base=None):
        return compose(config_name=name, overrides=list(overrides or []))


def _recipe(recipe: str, nodes: int, gpus_per_node: int, cfg, recipe_overrides: list[str]):
    from canto_nemo.recipes import nemo_recipes

    if recipe not in FACTORIES:
        raise ValueError(f"recipe={recipe!r}: AutoConfigurator sweeps pretraining recipes, one of {FACTORIES}")
    overrides = " ".join([*recipe_overrides, f"data.seq_length={cfg.seq_length}"])
    return getattr(nemo_recipes, recipe)(num_nodes=nodes, num_gpus_per_node=gpus_per_node, overrides=overrides)


def _runner(recipe_partial, output: Path, cfg, vocab_size: int):
    """AutoConfigurator reads the model size from the config class's name (Llama32Config1B: 1B); its other mode,
    calculate_model_size, picks a size for the GPU budget (tens of billions here), not ours."""
    from nemo.collections.llm.tools.auto_configurator import AutoConfigurator

    return AutoConfigurator(
        recipe=recipe_partial, path_to_logs=str(output / "logs"), gpu_memory_gb=cfg.gpu_memory_gb,
        tensor_parallel_sizes=_grid(cfg.tensor_parallel_sizes),
        pipeline_parallel_sizes=_grid(cfg.pipeline_parallel_sizes),
        micro_batch_sizes=_grid(cfg.micro_batch_sizes), context_parallel_sizes=list(cfg.context_parallel_sizes),
        max_steps_per_run=cfg.max_steps_per_run, max_minutes_per_run=cfg.max_minutes_per_run,
        num_tokens_in_b=cfg.num_tokens_in_b, tflops_per_gpu=cfg.tflops_per_gpu,
        max_training_days=cfg.max_training_days, vocab_size=vocab_size, calculate_model_size=False,
    )


def _vocab(recipe: str, recipe_overrides: list[str]) -> int:
    """The padded vocabulary of the recipe's tokenizer (32,000 when it is not built yet)."""
    from canto_nemo.recipes import nemo_recipes
    from canto_nemo.recipes.tokenizer import metadata

    composed = nemo_recipes.compose(FACTORY_CONFIGS[recipe], recipe_overrides)
    info = metadata(composed.data.tokenizer)
    return info["padded_vocab_size"] if info else 32000


def _config_values(config):
    """The fields the estimates need, read from a run.Config (its defaults included) without building it: building a
    NeMo model config checks for GPU kernels."""
    from types import SimpleNamespace

    names = ("hidden_size", "num_layers", "ffn_hidden_size", "num_attention_heads", "num_query_groups", "vocab_size",
             "gated_linear_unit", "share_embeddings_and_output_weights")
    values = SimpleNamespace(**{n: getattr(config, n, None) for n in names})
    values.name = config.__fn_or_cls__.__name__
    return values


def _grid(value):
    return value if value == "auto" else list(value)


def parameters(config) -> int:
    """Parameters of a GPT/Llama-style config (embeddings tied or not), from its fields."""
    h, layers, ffn = config.hidden_size, config.num_layers, config.ffn_hidden_size
    heads, groups = config.num_attention_heads, config.num_query_groups or config.num_attention_heads
    kv = h // heads * groups
    gated = 3 if getattr(config, "gated_linear_unit", False) else 2
    per_layer = h * (h + 2 * kv) + h * h + gated * h * ffn + 2 * h
    vocab = config.vocab_size or 0
    embeddings = vocab * h * (1 if getattr(config, "share_embeddings_and_output_weights", False) else 2)
    return layers * per_layer + embeddings


def memory_gb(params: int, config, seq: int, mbs: int, tp: int, pp: int, cp: int, dp: int) -> float:
    """Estimated memory per GPU: bf16 weights and grads (4 bytes/param) and fp32 master + Adam states sharded over
    data parallel (12 bytes/param / dp), split over tp x pp; plus activations without recomputation,
    s*b*h*(34 + 5*a*s/h) bytes per layer (Korthikanti et al. 2022), split over tp, cp and the layers of one stage."""
    model_bytes = params / (tp * pp) * (4 + 12 / dp)
    h, a = config.hidden_size, config.num_attention_heads
    s = seq / cp
    activations = s * mbs * h * (34 + 5 * a * s / h) * (config.num_layers / pp) / tp
    return (model_bytes + activations) / 2**30


def impossible(world: int, tp: int, pp: int, cp: int, micro_batch: int, global_batch: int) -> str | None:
    """Why a parallel layout cannot run on `world` GPUs, or None when it can."""
    if world % (tp * pp * cp):
        return f"{world} GPUs do not divide into tensor x pipeline x context parallel = {tp} x {pp} x {cp}"
    dp = world // (tp * pp * cp)
    if global_batch % (micro_batch * dp):
        return f"global batch {global_batch} is not a multiple of micro batch {micro_batch} x data parallel {dp}"
    return None


def generate(recipe: str, nodes: int, gpus_per_node: int, output: str, sweep: str = "default",
             overrides: list[str] | None = None, recipe_overrides: list[str] | None = None,
             overwrite: bool = False, progress=print) -> list[dict]:
    """Writes the candidates and the table; returns the table's rows. `overrides` apply to conf/sweep/<sweep>.yaml,
    `recipe_overrides` to the recipe's conf/recipe/ composition (e.g. ["model=llama32_1b"])."""
    from nemo.collections.llm.tools.auto_configurator import generate_configs

    from canto_nemo.common.outputs import prepare_output_dir

    out = prepare_output_dir(output, overwrite)
    cfg = compose_sweep(sweep, overrides)
    partial = _recipe(recipe, nodes, gpus_per_node, cfg, list(recipe_overrides or []))
    model_config = _config_values(partial.model.config)
    vocab = _vocab(recipe, list(recipe_overrides or []))
    runner = _runner(partial, out, cfg, vocab)
    _, candidates = generate_configs(runner)
    if not candidates:
        raise ValueError(f"AutoConfigurator found no candidate for {nodes} x {gpus_per_node} GPUs")
    if model_config.vocab_size is None:
        model_config.vocab_size = vocab
    params = parameters(model_config)
    world = nodes * gpus_per_node
    rows = []
    for name, candidate in candidates.items():
        strategy = candidate.trainer.strategy
        tp, pp = strategy.tensor_model_parallel_size, strategy.pipeline_model_parallel_size
        cp = strategy.context_parallel_size or 1
        mbs, gbs = candidate.data.micro_batch_size, candidate.data.global_batch_size
        why = impossible(world, tp, pp, cp, mbs, gbs)
        if why:
            progress(f"sweep: dropped {name}: {why}")
            continue
        dp = world // (tp * pp * cp)
        seq = candidate.data.seq_length
        step_s = 6 * params * gbs * seq / (world * cfg.tflops_per_gpu * 1e12)
        arguments = {"num_nodes": nodes, "num_gpus_per_node": gpus_per_node, "tensor_parallelism": tp,
                     "pipeline_parallelism": pp, "context_parallelism": cp, "dir": str(out / "logs"), "name": name}
        _write_candidate(out / f"{name}.yaml", recipe, arguments, [
            *(recipe_overrides or []), f"data.micro_batch_size={mbs}", f"data.global_batch_size={gbs}",
            f"data.seq_length={seq}", f"schedule.max_steps={candidate.trainer.max_steps}",
            "schedule.log_every_n_steps=1",
        ])
        memory = memory_gb(params, model_config, seq, mbs, tp, pp, cp, dp)
        rows.append({"name": name, "tp": tp, "pp": pp, "cp": cp, "dp": dp, "micro_batch": mbs, "global_batch": gbs,
                     "memory_gb": round(memory, 1), "fits": memory <= cfg.gpu_memory_gb,
                     "run_minutes": round(step_s * candidate.trainer.max_steps / 60, 2)})
    if not rows:
        raise ValueError(f"no AutoConfigurator candidate can run on {nodes} x {gpus_per_node} GPUs (see above)")
    lines = [f"# Sweep: {recipe} on {nodes} node(s) x {gpus_per_node} GPU(s)", "",
             f"Model: {model_config.name}, {params / 1e6:,.0f}M parameters (vocabulary {vocab:,}), "
             f"sequence {cfg.seq_length}, {cfg.gpu_memory_gb} GB per GPU. Estimates: memory per GPU without "
             f"activation recomputation; time per run at {cfg.tflops_per_gpu} TFLOPS per GPU "
             f"({cfg.max_steps_per_run} steps). Run a candidate with "
             f"`canto-nemo sweep run candidate={output}/NAME.yaml`; "
             f"then `canto-nemo sweep rank output={output}` ranks the finished runs from their logs.", "",
             "| candidate | TP | PP | CP | DP | micro batch | global batch | est. memory/GPU (GB) | fits "
             "| est. minutes |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['tp']} | {r['pp']} | {r['cp']} | {r['dp']} | {r['micro_batch']} | "
                     f"{r['global_batch']} | {r['memory_gb']} | {'yes' if r['fits'] else 'no'} | {r['run_minutes']} |")
    (out / "candidates.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "sweep.json").write_text(json.dumps({"recipe": recipe, "nodes": nodes, "gpus_per_node": gpus_per_node,
                                                "sweep": sweep, "overrides": list(overrides or []),
                                                "recipe_overrides": list(recipe_overrides or []), "rows": rows},
                                               indent=2) + "\n", encoding="utf-8")
    progress(f"sweep: {len(rows)} candidates -> {output}/candidates.md")
    return rows


def rank(output: str, top: int = 10, progress=print) -> None:
    """AutoConfigurator's get_results over the finished runs' logs (DIR/logs/<candidate>/)."""
    from nemo.collections.llm.tools.auto_configurator import generate_configs, get_results

    out = Path(output)
    meta_path = out / "sweep.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} not found: run `canto-nemo sweep recipe=... output={output}` first")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    cfg = compose_sweep(meta["sweep"], meta["overrides"])
    partial = _recipe(meta["recipe"], meta["nodes"], meta["gpus_per_node"], cfg, meta["recipe_overrides"])
    runner = _runner(partial, out, cfg, _vocab(meta["recipe"], meta["recipe_overrides"]))
    if not (out / "logs").is_dir():
        raise FileNotFoundError(f"no logs under {out / 'logs'}: run the candidates first")
    base, _ = generate_configs(runner)
    # get_results reads every candidate folder under the logs (its `log-*` stdout and TensorBoard `events*` with
    # "train_step_timing in s") and writes final_summary_<N>nodes.csv and failed_jobs_<N>nodes.csv beside them.
    get_results(base_config=base, train_config=runner, path_to_save=str(out / "logs"), output_top_n=top)
    progress(f"sweep rank: {out / 'logs'}/final_summary_{meta['nodes']}nodes.csv")


def _write_candidate(path: Path, recipe: str, arguments: dict, overrides: list[str]) -> None:
    """A candidate as the recipe, its arguments and the Hydra overrides that make it, plus the config they
    resolve to and the `nemo llm pretrain` command that runs it."""
    import yaml
    from omegaconf import OmegaConf

    from canto_nemo.recipes import nemo_recipes

    config = OmegaConf.to_container(nemo_recipes.compose(FACTORY_CONFIGS[recipe], overrides), resolve=True)
    call = ", ".join([*(f"{k}={v!r}" for k, v in arguments.items()), f"overrides={' '.join(overrides)!r}"])
    command = f'nemo llm pretrain --factory "{recipe}({call})" -y'
    text = yaml.safe_dump({"recipe": recipe, "arguments": arguments, "overrides": overrides, "command": command,
                           "config": config}, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")


def load_candidate(path: str):
    """The run.Partial of a candidate YAML, rebuilt from its recipe, arguments and overrides."""
    import yaml

    from canto_nemo.recipes import nemo_recipes

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no candidate at {path}")
    spec = yaml.safe_load(file.read_text(encoding="utf-8"))
    if not isinstance(spec, dict) or spec.get("recipe") not in FACTORIES:
        raise ValueError(f"{path} is not a sweep candidate (no recipe: {', '.join(FACTORIES)})")
    return getattr(nemo_recipes, spec["recipe"])(**spec["arguments"], overrides=" ".join(spec["overrides"]))


def run_candidate(candidate: str, dryrun: bool = False) -> None:
    """Runs one candidate YAML on this node with torchrun (NeMo-Run's LocalExecutor), one task per GPU."""
    import nemo_run as run

    partial = load_candidate(candidate)
    devices = partial.trainer.devices
    executor = run.LocalExecutor(ntasks_per_node=devices, launcher="torchrun" if devices > 1 else None)
    run.run(partial, executor=executor, name=Path(candidate).stem, dryrun=dryrun)

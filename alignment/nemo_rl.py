"""`canto-nemo align nemo-rl`: a NeMo-RL run (DPO or GRPO, Megatron backend, NeMo-RL v0.7.0 pinned) for a cluster,
written as a folder that NeMo-RL's container runs as is.

NeMo-RL needs Python >= 3.13 and CUDA, so it never runs here: this writes its config (the packaged
nemo_rl/{dpo,grpo}_megatron.yaml with the model, data files, steps and cluster shape filled in), copies the data
files beside it and writes `launch.sh`: one `docker run` of NeMo-RL's container for one node, or an `sbatch` of
NeMo-RL's ray.sub for several. GRPO runs through canto_nemo.alignment.nemo_rl_env, which registers the
`cantonese` reward environment first; the launch installs this package (from the source tree, mounted read-only and
copied, `--no-deps`, plus regex and opencc for the pack's judge) into the container's Python.

The checkpoint route (NeMo 2 -> Hugging Face -> NeMo-RL -> Hugging Face -> NeMo 2):
1. NeMo -> HF: `llm.export_ckpt(path=NEMO_CKPT, target="hf", output_path=HF_DIR)` (the smoke run's export in
   recipes/smoke_train.py does this for the demo's model).
2. HF -> NeMo-RL: `model=HF_DIR` here; NeMo-RL converts it to Megatron itself on the first step
   (policy.megatron_cfg.force_reconvert_from_hf) and writes Megatron checkpoints under checkpointing.checkpoint_dir.
3. NeMo-RL -> HF: `examples/converters/convert_megatron_to_hf.py --config RESULTS/step_N/config.yaml
   --megatron-ckpt-path RESULTS/step_N/policy/weights/iter_N --hf-ckpt-path HF_OUT` in the same container
   (launch.sh prints the line).
4. HF -> NeMo: `llm.import_ckpt(model=llm.LlamaModel(...) or the matching NeMo model, source="hf://HF_OUT")`
   (recipes/checkpoint.py's import_to_nemo), then `nemo llm finetune` / evaluation as usual; `canto-nemo eval
   model=HF_OUT` measures it directly. The TRL route (`align dpo|grpo`) reads and writes the same HF folders.
"""

from __future__ import annotations

import json
import shlex
import shutil
from importlib.resources import files
from pathlib import Path

from canto_nemo.common.outputs import prepare_output_dir

__all__ = ["CONTAINER", "NEMO_RL_VERSION", "config_path", "nemo_rl_run"]

NEMO_RL_VERSION = "v0.7.0"
CONTAINER = f"nvcr.io/nvidia/nemo-rl:{NEMO_RL_VERSION}"
CONFIGS = {"dpo": "dpo_megatron.yaml", "grpo": "grpo_megatron.yaml"}
RUN_MOUNT = "/canto/run"
SOURCE_MOUNT = "/canto/src"
MODEL_MOUNT = "/canto/model"
NEMO_RL_DIR = "/opt/nemo-rl"
# The pack's reward needs these beyond what NeMo-RL's container has (numpy, PyYAML).
REWARD_DEPENDENCIES = ("regex", "opencc==1.4.2")


def config_path(method: str) -> Path:
    if method not in CONFIGS:
        raise ValueError(f"method={method!r}: NeMo-RL runs are dpo or grpo")
    return Path(str(files("canto_nemo.alignment") / "nemo_rl" / CONFIGS[method]))


def _data_files(method: str, data: str) -> dict[str, Path]:
    """The NeMo-RL data files of `instruct preference`'s DIR (or the files themselves)."""
    root = Path(data)
    if method == "dpo":
        folder = root / "nemo_rl" if (root / "nemo_rl").is_dir() else root
        found = {"train": folder / "train.jsonl", "validation": folder / "validation.jsonl"}
    else:
        prompts = root / "grpo" / "nemo_rl.jsonl" if root.is_dir() else root
        found = {"prompts": prompts}
    for name, path in found.items():
        if not path.is_file():
            raise FileNotFoundError(f"no NeMo-RL {method} {name} file at {path}: give `canto-nemo instruct "
                                    "preference`'s output folder as data=")
        if not any(line.strip() for line in path.read_text(encoding="utf-8").splitlines()):
            raise ValueError(f"{path} holds no records: NeMo-RL needs {name} data")
    return found


def nemo_rl_run(
    method: str,
    model: str,
    data: str,
    output: str,
    nodes: int = 1,
    gpus_per_node: int = 8,
    tensor_parallel: int = 1,
    pipeline_parallel: int = 1,
    steps: int | None = None,
    container: str = CONTAINER,
    source: str | None = None,
    overwrite: bool = False,
    progress=print,
) -> dict:
    """Writes DIR/config.yaml, DIR/data/, DIR/launch.sh (see the module docstring); returns the launch command.
    `model` is a Hugging Face folder (mounted read-only at /canto/model) or a hub name; `source` is this
    project's source tree for the container to install (default: the one this module was loaded from)."""
    from omegaconf import OmegaConf

    from canto_nemo.alignment.align import check_model

    if nodes < 1 or gpus_per_node < 1:
        raise ValueError(f"nodes={nodes} and gpus_per_node={gpus_per_node} must be at least 1")
    world = nodes * gpus_per_node
    if world % (tensor_parallel * pipeline_parallel):
        raise ValueError(f"tensor_parallel={tensor_parallel} x pipeline_parallel={pipeline_parallel} does not divide "
                         f"the {world} GPUs of {nodes} node(s) x {gpus_per_node}")
    local_model = Path(model).is_dir()
    if local_model:
        check_model(model)
    found = _data_files(method, data)
    source_tree = Path(source) if source else Path(__file__).resolve().parents[1]
    if not (source_tree / "pyproject.toml").is_file():
        raise FileNotFoundError(f"source={source_tree} is not this project's source tree (no pyproject.toml)")

    cfg = OmegaConf.load(config_path(method))
    model_ref = MODEL_MOUNT if local_model else model
    cfg.policy.model_name = model_ref
    cfg.policy.tokenizer.name = model_ref
    cfg.cluster.num_nodes, cfg.cluster.gpus_per_node = nodes, gpus_per_node
    cfg.policy.megatron_cfg.tensor_model_parallel_size = tensor_parallel
    cfg.policy.megatron_cfg.pipeline_model_parallel_size = pipeline_parallel
    cfg.checkpointing.checkpoint_dir = f"{RUN_MOUNT}/results"
    cfg.logger.log_dir = f"{RUN_MOUNT}/logs"
    if method == "dpo":
        if steps:
            cfg.dpo.max_num_steps = steps
        cfg.data.train.data_path = f"{RUN_MOUNT}/data/train.jsonl"
        cfg.data.validation.data_path = f"{RUN_MOUNT}/data/validation.jsonl"
        script = "examples/run_dpo.py"
    else:
        if steps:
            cfg.grpo.max_num_steps = steps
        cfg.data.train.data_path = f"{RUN_MOUNT}/data/prompts.jsonl"
        script = "examples/run_grpo.py"

    out = prepare_output_dir(output, overwrite)
    (out / "data").mkdir()
    for name, path in found.items():
        shutil.copyfile(path, out / "data" / f"{name}.jsonl")
    OmegaConf.save(cfg, out / "config.yaml")

    runner = (f"python -m canto_nemo.alignment.nemo_rl_env {script}" if method == "grpo"
              else f"python {script}")
    inside = (f"cp -r {SOURCE_MOUNT} /tmp/canto-src && pip install --quiet --no-deps /tmp/canto-src "
              f"{' '.join(map(shlex.quote, REWARD_DEPENDENCIES))} && "
              f"cd {NEMO_RL_DIR} && uv run {runner} --config {RUN_MOUNT}/config.yaml")
    mounts = [f"{out.resolve()}:{RUN_MOUNT}", f"{source_tree.resolve()}:{SOURCE_MOUNT}:ro",
              *([f"{Path(model).resolve()}:{MODEL_MOUNT}:ro"] if local_model else [])]
    if nodes == 1:
        command = ("docker run --rm --gpus all --ipc=host --shm-size=16g "
                   + " ".join(f"-v {shlex.quote(m)}" for m in mounts)
                   + f" {shlex.quote(container)} bash -c {shlex.quote(inside)}")
    else:  # NeMo-RL's Slurm launcher starts Ray across the nodes, then runs COMMAND on the head
        command = (f"COMMAND={shlex.quote(inside)} CONTAINER={shlex.quote(container)} "
                   f"MOUNTS={shlex.quote(','.join(mounts))} sbatch --nodes={nodes} --gres=gpu:{gpus_per_node} "
                   f"--exclusive --job-name=canto-{method} {NEMO_RL_DIR}/ray.sub")
    to_hf = (f"cd {NEMO_RL_DIR} && uv run --extra mcore python examples/converters/convert_megatron_to_hf.py "
             f"--config {RUN_MOUNT}/results/step_N/config.yaml --megatron-ckpt-path "
             f"{RUN_MOUNT}/results/step_N/policy/weights/iter_N --hf-ckpt-path {RUN_MOUNT}/hf")
    (out / "launch.sh").write_text(
        "#!/usr/bin/env bash\n"
        f"# NeMo-RL {NEMO_RL_VERSION} {method.upper()} (Megatron backend) on {nodes} node(s) x {gpus_per_node} GPUs, "
        f"TP={tensor_parallel} PP={pipeline_parallel}; written by canto-nemo align nemo-rl.\n"
        f"# Afterwards, the Megatron checkpoint back to Hugging Face (in the same container; N = the step):\n"
        f"#   {to_hf}\n"
        "set -euo pipefail\n" + command + "\n", encoding="utf-8")
    (out / "launch.sh").chmod(0o755)
    summary = {"method": method, "nemo_rl": NEMO_RL_VERSION, "container": container, "model": model,
               "nodes": nodes, "gpus_per_node": gpus_per_node, "tensor_parallel": tensor_parallel,
               "pipeline_parallel": pipeline_parallel, "data": {k: str(v) for k, v in found.items()},
               "command": command, "to_hf": to_hf}
    (out / "run.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    progress(f"align nemo-rl: {out / 'config.yaml'} and {out / 'launch.sh'} ({method}, {nodes} x {gpus_per_node} "
             f"GPUs, NeMo-RL {NEMO_RL_VERSION})")
    return summary

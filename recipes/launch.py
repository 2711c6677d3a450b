"""Checks before a recipe launches, and the wrappers the recipes call: check, then NeMo's llm.pretrain/finetune.

The checks read the same names from a recipe's config (a `run.Partial`, for tests and `canto-nemo` tools) and from
the objects NeMo builds at launch, so a dry run never needs the files or the GPUs, and a launch fails at once, with
every problem named, instead of minutes later inside Megatron.
"""

import inspect
from collections.abc import Callable
from pathlib import Path

from nemo.collections import llm

from canto_nemo.recipes.tokenizer import metadata


class LaunchCheckError(ValueError):
    """The recipe cannot run as configured; the message lists every problem found."""


def _get(obj, path: str, default=None):
    for name in path.split("."):
        if obj is None:
            return default
        obj = getattr(obj, name, None)
    return default if obj is None else obj


def _prefixes(paths) -> list[str]:
    if paths is None:
        return []
    if isinstance(paths, dict):
        return [p for value in paths.values() for p in _prefixes(value)]
    if isinstance(paths, (str, Path)):
        return [str(paths)]
    items = [str(p) for p in paths]
    # NeMo's zipped form: [weight, prefix, weight, prefix, ...]
    if len(items) % 2 == 0 and all(_is_number(w) for w in items[::2]):
        return items[1::2]
    return items


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _tokenizer_path(tokenizer) -> str | None:
    return _get(tokenizer, "pretrained_model_name") or _get(tokenizer, "tokenizer.name_or_path")


def problems(model, data, trainer, available_gpus: int | None = None, resume=None) -> list[str]:
    """Everything wrong with a (model, data, trainer[, resume]), config or built; empty when it can launch."""
    found = []
    restore = _get(resume, "restore_config.path")
    if restore is not None and "://" not in str(restore) and not Path(str(restore)).exists():
        found.append(f"base checkpoint {restore} does not exist (canto-nemo resize-embeddings, then "
                     "recipes.checkpoint.import_to_nemo; or set base_checkpoint=)")
    for prefix in _prefixes(_get(data, "paths")):
        missing = [ext for ext in (".bin", ".idx") if not Path(prefix + ext).is_file()]
        if missing:
            found.append(f"data prefix {prefix}: no {' or '.join(prefix + e for e in missing)} "
                         "(run canto-nemo megatron-data, or fix data.blend)")
    root = _get(data, "dataset_root")
    if root is not None and not (Path(str(root)) / "training.jsonl").is_file():
        found.append(f"SFT data {root}: no training.jsonl")

    strategy = _get(trainer, "strategy")
    tp = _get(strategy, "tensor_model_parallel_size", 1)
    tokenizer_path = _tokenizer_path(_get(data, "tokenizer"))
    if tokenizer_path is not None:
        info = metadata(str(tokenizer_path))
        if not Path(str(tokenizer_path)).exists():
            found.append(f"tokenizer {tokenizer_path} does not exist (run canto-nemo tokenizer train/extend)")
        elif info is not None:
            # NeMo pads an unset vocab_size to a multiple of make_vocab_size_divisible_by x tensor parallel.
            divisible = (_get(model, "config.make_vocab_size_divisible_by", 128) or 128) * tp
            model_vocab = _get(model, "config.vocab_size") or -(-info["vocab_size"] // divisible) * divisible
            # Weights restored from a checkpoint have the rows `canto-nemo resize-embeddings` gave them.
            if restore is not None and model_vocab != info["padded_vocab_size"]:
                found.append(f"the model's vocabulary {model_vocab} does not match the tokenizer's padded vocabulary "
                             f"{info['padded_vocab_size']} ({info['vocab_size']} tokens, {tokenizer_path}) that the "
                             "base checkpoint's embeddings were resized to: resize again for this tensor parallel "
                             "size, or fix model.config.vocab_size")
            elif restore is None and model_vocab < info["vocab_size"]:
                found.append(f"model vocab_size {model_vocab} is smaller than the tokenizer's {info['vocab_size']} "
                             f"tokens ({tokenizer_path})")

    seq, model_seq = _get(data, "seq_length"), _get(model, "config.seq_length")
    if seq is not None and model_seq is not None and seq != model_seq:
        found.append(f"data seq_length {seq} differs from the model's seq_length {model_seq}")

    pp = _get(strategy, "pipeline_model_parallel_size", 1)
    cp = _get(strategy, "context_parallel_size", 1)
    nodes = _get(trainer, "num_nodes", 1)
    devices = _get(trainer, "devices", None) or _get(trainer, "num_devices", 1)
    world = nodes * devices
    if world % (tp * pp * cp):
        found.append(f"{nodes} node(s) x {devices} GPU(s) = {world} GPUs is not a multiple of tensor x pipeline x "
                     f"context parallel = {tp} x {pp} x {cp}")
    else:
        dp = world // (tp * pp * cp)
        mbs, gbs = _get(data, "micro_batch_size"), _get(data, "global_batch_size")
        if mbs and gbs and gbs % (mbs * dp):
            found.append(f"global_batch_size {gbs} is not a multiple of micro_batch_size {mbs} x data parallel "
                         f"{dp}")
    heads, layers = _get(model, "config.num_attention_heads"), _get(model, "config.num_layers")
    if heads and heads % tp:
        found.append(f"{heads} attention heads do not split over tensor_parallel {tp}")
    if layers and layers % pp:
        found.append(f"{layers} layers do not split over pipeline_parallel {pp}")
    if _get(strategy, "sequence_parallel", False) and tp == 1:
        found.append("sequence_parallel needs tensor_parallel > 1")
    if available_gpus is not None and devices > available_gpus:
        found.append(f"the recipe wants {devices} GPU(s) per node; this node has {available_gpus}"
                     + (" (llm.pretrain needs CUDA; canto-nemo smoke-train is the CPU check)" if not available_gpus
                        else ""))
    return found


def check(model, data, trainer, available_gpus: int | None = None, resume=None) -> None:
    found = problems(model, data, trainer, available_gpus, resume)
    if found:
        raise LaunchCheckError("the recipe cannot launch:\n  - " + "\n  - ".join(found))


def _visible_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def _checked(train: Callable) -> Callable:
    """NeMo's training function, unchanged, after the checks: the recipe's `fn`. It has the same signature (NeMo-Run
    parses YAML and command-line values by it) and a home in this module, where serialised recipes find it."""
    signature = inspect.signature(train)

    def checked(*args, **kwargs):
        given = signature.bind(*args, **kwargs).arguments
        check(given["model"], given["data"], given["trainer"], available_gpus=_visible_gpus(),
              resume=given.get("resume"))
        return train(*args, **kwargs)

    checked.__signature__ = signature
    checked.__name__ = checked.__qualname__ = train.__name__
    checked.__module__ = __name__
    checked.__doc__ = f"NeMo's llm.{train.__name__} after canto-nemo's pre-launch checks."
    return checked


pretrain = _checked(llm.pretrain)
finetune = _checked(llm.finetune)

"""Building stages from configs safely: configs are data, so `_target_` may only name this project's and NeMo's
classes. Every `_target_` in a config is checked before anything is imported from it or instantiated."""

from __future__ import annotations

import inspect
from typing import Any

from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf

ALLOWED_PACKAGES = ("canto_nemo", "nemo_curator", "nemo", "nemo_run", "megatron.core")


class UnsafeConfigError(ValueError):
    """A config names something outside the allowed packages."""


def _allowed_module(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in ALLOWED_PACKAGES)


def check_targets(config: Any, where: str = "config") -> None:
    """Raises UnsafeConfigError for any `_target_` that is not a class of an allowed package."""
    if isinstance(config, DictConfig | dict):
        items = config.items() if isinstance(config, dict) else ((k, config._get_node(k)) for k in config)
        for key, value in items:
            if key == "_target_":
                _check_target(str(value._value() if hasattr(value, "_value") else value), where)
            else:
                check_targets(value, f"{where}.{key}")
    elif isinstance(config, ListConfig | list):
        for i, value in enumerate(config):
            check_targets(value, f"{where}[{i}]")


def _check_target(target: str, where: str) -> None:
    refusal = f"{where}: _target_ {target!r} is refused: only classes of {', '.join(ALLOWED_PACKAGES)} may be named"
    # The string is checked before anything is imported, so a config cannot even trigger an import elsewhere.
    if not _allowed_module(target.rsplit(".", 1)[0]):
        raise UnsafeConfigError(refusal)
    try:
        obj = get_object(target)
    except Exception as err:
        raise UnsafeConfigError(f"{where}: _target_ {target!r} cannot be found ({err})") from err
    # A re-exported foreign object (e.g. `nemo_curator.some_module.os.system`) has its real home elsewhere.
    if not inspect.isclass(obj) or not _allowed_module(obj.__module__):
        raise UnsafeConfigError(refusal)


def build(config: Any, where: str = "config") -> Any:
    """Check every `_target_`, then instantiate."""
    check_targets(config, where)
    if isinstance(config, DictConfig | ListConfig):
        config = OmegaConf.to_container(config, resolve=True)
    return instantiate(config, _convert_="all")

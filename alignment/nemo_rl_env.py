"""NeMo-RL's `cantonese` environment: GRPO rewards from the pack's `dialect_reward`, the same function TRL's GRPO and
the evaluation's fidelity use.

Inside NeMo-RL's container (v0.7.0), `python -m canto_nemo.alignment.nemo_rl_env examples/run_grpo.py
--config RUN/config.yaml` registers the environment (NeMo-RL's ENV_REGISTRY and its actor-environment registry)
and then runs NeMo-RL's own script, so a config's `env_name: cantonese` finds it. `rewards_for` is the pure part
(message logs and metadata in, one reward each out) and runs anywhere; the Ray actor is defined only where NeMo-RL
is installed.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence
from typing import Any

ENV_NAME = "cantonese"
ACTOR_FQN = "canto_nemo.alignment.nemo_rl_env.CantoneseEnvironment"


def rewards_for(message_log_batch: Sequence[Sequence[dict]], metadata: Sequence[dict | None],
                floor: float | None = None, pack: str = "cantonese") -> list[float]:
    """One reward per conversation: the pack's reward (`LanguagePack.reward`) of its last assistant turn, with the
    metadata's `ground_truth` (NeMo-RL's processors put the dataset's output column there) as the task answer where
    set; `floor`, where given, is passed on (the Cantonese reward's floor of each factor)."""
    from canto_nemo.curator_stages.language_pack import get_pack

    if len(message_log_batch) != len(metadata):
        raise ValueError(f"{len(message_log_batch)} message logs for {len(metadata)} metadata entries")
    answers = []
    completions = []
    for log, meta in zip(message_log_batch, metadata, strict=True):
        turns = [m for m in log if m.get("role") == "assistant"]
        completions.append(str(turns[-1].get("content", "")) if turns else "")
        truth = (meta or {}).get("ground_truth")
        answers.append(truth if isinstance(truth, str) and truth.strip() else None)
    return get_pack(pack).reward(completions, answer=answers, **({} if floor is None else {"floor": floor}))


try:
    import ray
    import torch
    from nemo_rl.environments.interfaces import EnvironmentInterface, EnvironmentReturn
except ImportError:  # NeMo-RL lives in its own container (Python >= 3.13, CUDA); here only rewards_for runs
    EnvironmentInterface = None

if EnvironmentInterface is not None:

    @ray.remote(max_restarts=-1, max_task_retries=-1)
    class CantoneseEnvironment(EnvironmentInterface):
        """One turn: the answer is scored, the episode ends."""

        def __init__(self, cfg: dict | None = None) -> None:
            self.floor = (cfg or {}).get("floor")
            self.pack = (cfg or {}).get("pack", "cantonese")

        def step(self, message_log_batch: list, metadata: list) -> EnvironmentReturn:
            rewards = rewards_for(message_log_batch, metadata, self.floor, self.pack)
            return EnvironmentReturn(
                observations=[{"role": "environment", "content": f"dialect reward {r:.3f}"} for r in rewards],
                metadata=metadata, next_stop_strings=[None] * len(rewards),
                rewards=torch.tensor(rewards, dtype=torch.float32), terminateds=torch.ones(len(rewards)),
                answers=None)

        def global_post_process_and_metrics(self, batch: Any) -> tuple[Any, dict]:
            rewards = batch["rewards"]
            return batch, {"dialect_reward_mean": float(rewards.float().mean()) if len(rewards) else 0.0}

        def shutdown(self) -> None:
            pass


def register() -> None:
    """Makes `env_name: cantonese` known to NeMo-RL in this process (its Ray actors inherit the registration through
    the actor class's import path)."""
    from nemo_rl.distributed.ray_actor_environment_registry import ACTOR_ENVIRONMENT_REGISTRY
    from nemo_rl.distributed.virtual_cluster import PY_EXECUTABLES
    from nemo_rl.environments.utils import ENV_REGISTRY

    ENV_REGISTRY.setdefault(ENV_NAME, {"actor_class_fqn": ACTOR_FQN})
    ACTOR_ENVIRONMENT_REGISTRY.setdefault(ACTOR_FQN, PY_EXECUTABLES.SYSTEM)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or not argv[0].endswith(".py"):
        raise SystemExit("usage: python -m canto_nemo.alignment.nemo_rl_env examples/run_grpo.py "
                         "--config CONFIG [overrides]  (in NeMo-RL's checkout, inside its container)")
    register()
    sys.argv = list(argv)
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main()

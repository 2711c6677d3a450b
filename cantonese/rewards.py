"""The pack's Cantonese reward: one pure function that is TRL's reward callable, NeMo-RL's environment reward and the
evaluation's fidelity score, so a model is trained towards exactly what it is measured on.

`dialect_reward(completions, **columns)` has TRL's reward-function shape: `completions` are plain strings or chat
messages (`[{"role": "assistant", "content": ...}]`), other dataset columns come as keyword lists. Each completion
scores

    floored(P(Cantonese)) x floored(1 - Simplified-character share) x floored(task score)

(the task score: given per completion, or 1.0 when the last number matches an `answer` column, GSM8K style; 1
where there is no task), where `floored(x) = floor + (1 - floor) * x` keeps every factor in [floor, 1]: an
all-wrong GRPO group (task score 0 everywhere) still ranks its answers by dialect, and an all-Mandarin group still
ranks them by task, so no group's rewards collapse to one value while its completions differ. An empty
completion gets the lowest reward, floor ** 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import regex

FLOOR = 0.05
_HAN = regex.compile(r"\p{Han}")
_NUMBER = regex.compile(r"-?\d[\d,]*(?:\.\d+)?")
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９，．－", "0123456789,.-")


def completion_text(completion: Any) -> str:
    """The text of a completion: a string as is; chat messages (a list of {"role", "content"}, or one such dict):
    the assistant turns' content, joined."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    parts = []
    for message in completion or []:
        content = message.get("content", "") if isinstance(message, dict) else message
        if isinstance(content, list):  # OpenAI content parts [{"type": "text", "text": ...}]
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(message, dict) or message.get("role", "assistant") == "assistant":
            parts.append(str(content or ""))
    return "\n".join(parts)


def simplified_char_share(text: str) -> float:
    """The share of the text's Han characters that only Simplified writing uses (OpenCC s2t changes them, t2s leaves
    them: 们, 这, 说); 0.0 for a text without Han characters."""
    from canto_nemo.cantonese.variants import script_marks  # the project's one table of script-only characters

    han = len(_HAN.findall(text))
    return len(script_marks()[0].findall(text)) / han if han else 0.0


def _floored(value: float, floor: float) -> float:
    return floor + (1.0 - floor) * min(1.0, max(0.0, float(value)))


def last_number(text: str) -> str | None:
    """The last number in a text, without thousands separators (GSM8K's answer convention), else None."""
    found = _NUMBER.findall(text.translate(_FULL_WIDTH_DIGITS))
    if not found:
        return None
    number = found[-1].replace(",", "").rstrip(".")
    return number[:-2] if number.endswith(".0") else number


def answer_match(completion: Any, answer: Any) -> float | None:
    """1.0 when the completion's last number is the reference answer's last number, 0.0 when not; None when there
    is no reference (no task for that completion)."""
    if answer is None or (isinstance(answer, float) and answer != answer) or not str(answer).strip():
        return None
    expected = last_number(str(answer))
    return float(expected is not None and last_number(completion_text(completion)) == expected)


def dialect_reward(completions: Sequence[Any], task_scores: Sequence[float | None] | None = None,
                   answer: Sequence[Any] | None = None, floor: float = FLOOR, **columns: Any) -> list[float]:
    """One reward in [floor ** 3, 1] per completion (see the module docstring). `task_scores`: an optional score in
    [0, 1] per completion (e.g. 1.0 for a correct GSM8K answer; None: no task for that one); without them, an
    `answer` column (TRL passes every dataset column by name) scores each completion by `answer_match`. Other
    `columns` (`prompts`, ids, ...) are accepted and ignored."""
    from canto_nemo.cantonese.dialect import detect_dialect_batch

    if not 0.0 <= floor < 1.0:
        raise ValueError(f"floor must be in [0, 1), got {floor}")
    texts = [completion_text(c) for c in completions]
    if task_scores is None and answer is not None:
        if len(answer) != len(texts):
            raise ValueError(f"{len(answer)} answers for {len(texts)} completions")
        task_scores = [answer_match(c, a) for c, a in zip(completions, answer, strict=True)]
    if task_scores is not None and len(task_scores) != len(texts):
        raise ValueError(f"{len(task_scores)} task scores for {len(texts)} completions")
    judged = detect_dialect_batch(texts)
    rewards = []
    for i, (text, result) in enumerate(zip(texts, judged, strict=True)):
        if not text.strip():
            rewards.append(floor ** 3)
            continue
        task = 1.0 if task_scores is None or task_scores[i] is None else task_scores[i]
        rewards.append(_floored(result.score, floor) * _floored(1.0 - simplified_char_share(text), floor)
                       * _floored(task, floor))
    return rewards

"""cantonese.rewards: the one reward (TRL callable, NeMo-RL environment, evaluation fidelity) on real Cantonese and
written-Chinese sentences: the kaifangcidian parallel pairs and Tatoeba's Cantonese (training data, not evaluation
sets)."""

from __future__ import annotations

import random
import statistics

import opencc
import pytest

from canto_nemo.alignment.nemo_rl_env import rewards_for
from canto_nemo.cantonese.rewards import FLOOR, answer_match, completion_text, dialect_reward, last_number
from canto_nemo.evaluation import scoring


@pytest.fixture(scope="module")
def pairs(shared_data) -> list[tuple[str, str]]:
    """200 (Cantonese, written Chinese) pairs that say the same thing, drawn reproducibly."""
    lines = (shared_data / "dialect_train" / "kfcd_pairs.txt").read_text(encoding="utf-8").splitlines()
    found = [tuple(line.split("|||")[1:3]) for line in lines if line.count("|||") == 2]
    found = [(y, z) for y, z in found if len(y) >= 6 and y != z]
    return random.Random(0).sample(found, 200)


def test_cantonese_scores_high_and_written_chinese_low(pairs, shared_data):
    cantonese = dialect_reward([y for y, _ in pairs])
    written = dialect_reward([z for _, z in pairs])
    assert statistics.mean(cantonese) > 0.75
    assert statistics.mean(written) < 0.35
    assert sum(c > w for c, w in zip(cantonese, written, strict=True)) / len(pairs) >= 0.85
    tatoeba = [line.split("\t")[2] for line in (shared_data / "dialect_train" / "tatoeba_yue.tsv")
               .read_text(encoding="utf-8").splitlines()[:300] if line.count("\t") >= 2]
    assert statistics.mean(dialect_reward(tatoeba)) > 0.6
    assert all(FLOOR ** 3 - 1e-9 <= r <= 1.0 for r in cantonese + written)


def test_simplified_characters_are_penalised(pairs):
    t2s = opencc.OpenCC("t2s")
    traditional = [y for y, _ in pairs if t2s.convert(y) != y][:60]
    simplified = [t2s.convert(y) for y in traditional]
    kept = [FLOOR + (1 - FLOOR) * (1 - scoring.simplified_char_share(t)) for t in traditional + simplified]
    n = len(traditional)
    scored = list(zip(dialect_reward(traditional), dialect_reward(simplified), kept[:n], kept[n:], strict=True))
    assert sum(after < before for before, after, _, _ in scored) / len(scored) >= 0.95
    # The penalty is the share's: what is left is floored(1 - share), whatever the judge says.
    assert all(after / before <= k_after / k_before + 0.05 for before, after, k_before, k_after in scored)


def test_chat_messages_score_as_their_text(pairs):
    texts = [y for y, _ in pairs[:10]]
    messages = [[{"role": "assistant", "content": t}] for t in texts]
    assert dialect_reward(messages) == dialect_reward(texts)
    assert completion_text([{"role": "user", "content": "問"}, {"role": "assistant", "content": "答"}]) == "答"
    assert completion_text({"role": "assistant", "content": [{"type": "text", "text": "係"}]}) == "係"


def test_task_score_from_the_answer_column_and_the_floor():
    right, wrong = "佢總共有18個蘋果。", "佢總共有17個蘋果。"
    rewards = dialect_reward([right, wrong, right], answer=["#### 18", "18", None], prompts=["q"] * 3)
    assert rewards[0] > 0.5 and rewards[1] < rewards[0] * 0.1 and rewards[2] == pytest.approx(rewards[0])
    assert answer_match("答案係 1,234", "1234") == 1.0 and answer_match("冇數", "3") == 0.0
    assert answer_match("x", None) is None and last_number("３．５") == "3.5" and last_number("10.0") == "10"
    # An all-wrong group still ranks its answers by dialect: no zero variance while the answers differ.
    group = dialect_reward(["我哋食咗飯未呀？答案係5", "我們吃飯了沒有？答案是5"], task_scores=[0.0, 0.0])
    assert group[0] > group[1] > 0
    assert dialect_reward([""]) == [pytest.approx(FLOOR ** 3)]


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="floor"):
        dialect_reward(["係"], floor=1.0)
    with pytest.raises(ValueError, match="2 task scores for 1 completions"):
        dialect_reward(["係"], task_scores=[1.0, 0.0])
    with pytest.raises(ValueError, match="2 answers for 1 completions"):
        dialect_reward(["係"], answer=["1", "2"])


def test_evaluation_fidelity_and_nemo_rl_environment_use_the_same_reward(pairs):
    texts = [y for y, _ in pairs[:5]] + [z for _, z in pairs[:5]]
    assert scoring.dialect_reward_mean(texts) == pytest.approx(statistics.mean(dialect_reward(texts)))
    assert scoring.simplified_char_share("我们这里") >= 0.5 and scoring.simplified_char_share("我哋呢度") == 0.0
    logs = [[{"role": "user", "content": "問題"}, {"role": "assistant", "content": t}] for t in texts]
    metadata = [{"ground_truth": ""}] * 9 + [{"ground_truth": "42"}]
    expected = dialect_reward(texts, answer=[None] * 9 + ["42"])
    assert rewards_for(logs, metadata) == pytest.approx(expected)
    with pytest.raises(ValueError, match="metadata"):
        rewards_for(logs, metadata[:-1])

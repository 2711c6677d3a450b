"""Re-scoring the Yue-Benchmark authors' published outputs: this package's answer rules reproduce the accuracies they
published (within one point), the answers no rule reads are counted apart, and the dialect-fidelity figures are
fractions."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from canto_nemo.evaluation.rescore import rescore

MODELS = ["gpt-4o", "qwen2-7b-hf", "qwen2.5-7b-hf", "llama-3-8b-instruct-hf"]
# task -> (outputs file infix, results CSV, its Dataset column)
TASKS = {"yue_gsm8k": ("gsm8k", "GSM8K_yue_results.csv", "gsm8k"),
         "yue_arc_c": ("ARC-c", "arc_cantonese_results.csv", "ARC-c")}


@pytest.fixture(scope="module")
def outputs(shared_data: Path) -> Path:
    return shared_data / "yue_benchmark_outputs"


def published(outputs: Path, task: str, model: str) -> float:
    _, table, dataset = TASKS[task]
    with (outputs / table).open(encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if (row["Model Name"], row["Dataset"], row["Language"],
                                                     row["Shot Type"]) == (model, dataset, "cantonese", "0shot")]
    assert len(rows) == 1, (model, task)
    return float(rows[0]["Accuracy"])


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS)
def test_published_accuracy_is_reproduced(outputs, model, task):
    result = rescore(str(outputs / f"{model}_{TASKS[task][0]}_cantonese_0shot.json.gz"), task)
    assert result["n"] == (1319 if task == "yue_gsm8k" else 1171)
    assert result["accuracy"] == pytest.approx(published(outputs, task, model), abs=0.01)
    assert (result["model"], result["task"]) == (model, task)
    unparseable = result["unparseable"]
    assert unparseable["share"] == unparseable["count"] / result["n"] < 0.01
    assert sum(result["rules"].values()) == result["n"]
    assert result["rules"].get("unparseable", 0) == unparseable["count"]
    assert 0 <= result["cantonese_share"] <= 1 and 0 <= result["simplified_char_share"] <= 1
    assert sum(result["labels"].values()) == result["n"]
    assert set(result["labels"]) <= {"cantonese", "mixed", "neutral", "written_chinese", "other"}
    assert result["cantonese_share"] == result["labels"].get("cantonese", 0) / result["n"]


def test_fidelity_tells_cantonese_answers_from_written_chinese_ones(outputs):
    """The measured facts: nearly all of GPT-4o's GSM8K answers are Cantonese (or mixed), few of Qwen2.5-7B's."""
    gpt = rescore(str(outputs / "gpt-4o_gsm8k_cantonese_0shot.json.gz"), "yue_gsm8k")
    qwen = rescore(str(outputs / "qwen2.5-7b-hf_gsm8k_cantonese_0shot.json.gz"), "yue_gsm8k")
    assert (gpt["labels"]["cantonese"] + gpt["labels"]["mixed"]) / gpt["n"] > 0.9 and gpt["cantonese_share"] > 0.7
    assert qwen["cantonese_share"] < 0.2
    assert qwen["labels"]["written_chinese"] > qwen["n"] / 2


def test_missing_outputs_name_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "gpt-4o_gsm8k_cantonese_0shot.json.gz"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        rescore(str(missing), "yue_gsm8k")


def test_unknown_task_is_refused(outputs):
    with pytest.raises(ValueError, match="yue_gsm8k, yue_arc_c"):
        rescore(str(outputs / "gpt-4o_gsm8k_cantonese_0shot.json.gz"), "yue_truthfulqa_mc1")


def test_the_command_line_reports_the_unparseable_answers(tmp_path):
    """`canto-nemo eval rescore=`: a file of answers the rules can and cannot read; the unreadable ones are wrong and
    counted apart."""
    import gzip
    import json
    import subprocess
    import sys

    records = [{"question": "3個人夾錢買一個$45嘅蛋糕，每人要俾幾多錢？", "correct_answer": "15", "llm_output": output}
               for output in ("每人要俾 **15** 蚊", "#### 15", "我唔識計。", "每人要俾14蚊。")]
    path = tmp_path / "some-model_gsm8k_cantonese_0shot.json.gz"
    path.write_bytes(gzip.compress(json.dumps(records, ensure_ascii=False).encode()))
    done = subprocess.run([sys.executable, "-m", "canto_nemo.cli", "eval", f"rescore={path}", "task=yue_gsm8k"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["model"] == "some-model" and result["accuracy"] == 0.5
    assert result["unparseable"] == {"count": 1, "share": 0.25}
    assert result["rules"] == {"bold number": 1, "####": 1, "unparseable": 1, "final sentence": 1}

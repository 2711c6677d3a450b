"""Re-scoring of the Yue-Benchmark authors' published model outputs with this package's own answer rules.

The authors released, per model, the raw responses behind their GSM8K and ARC-C accuracies (`MODEL_gsm8k_cantonese_
0shot.json.gz`, `MODEL_ARC-c_cantonese_0shot.json.gz`: gzip JSON arrays of records with question, llm_output,
correct_answer and, for ARC, standard_answer_range). Scoring them with the rules the lm-eval tasks use
(canto_nemo.evaluation.scoring) checks those rules against the published numbers, and adds what the
published numbers leave out: how many answers could not be read at all (wrong, but not for the model's reasoning), and
whether the answers are Cantonese at all.

    python -m canto_nemo.evaluation.rescore yue_gsm8k qwen2.5-7b-hf_gsm8k_cantonese_0shot.json.gz
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
from collections import Counter
from pathlib import Path

from canto_nemo.evaluation import scoring

TASKS = ("yue_gsm8k", "yue_arc_c")


def rescore(path: str, task: str) -> dict:
    """Accuracy of the published responses in `path` under this package's rules for `task` (yue_gsm8k or yue_arc_c):
    how many answers no rule could read (`unparseable`: count and share, scored wrong), how many each rule read
    (`rules`), and their dialect fidelity: the share the judge labels Cantonese, the mean share of Simplified-only
    characters, and the count per dialect label."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: rescore reads {', '.join(TASKS)}")
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"published outputs {file} do not exist (the authors' files are "
                                f"MODEL_gsm8k_cantonese_0shot.json.gz and MODEL_ARC-c_cantonese_0shot.json.gz)")
    with (gzip.open(file, "rt", encoding="utf-8") if file.suffix == ".gz" else file.open(encoding="utf-8")) as f:
        records = json.load(f)
    responses = [record["llm_output"] for record in records]
    if task == "yue_gsm8k":
        read = [scoring.read_number(record["llm_output"], record["question"]) for record in records]
        gold = [scoring.canonical_number(record["correct_answer"]) for record in records]
    else:
        read = [scoring.read_choice(record["llm_output"], _options(record), record["question"]) for record in records]
        gold = [record["correct_answer"] for record in records]
    correct = [r.answer is not None and r.answer == g for r, g in zip(read, gold, strict=True)]
    unparseable = sum(r.answer is None for r in read)
    labels = scoring.dialect_labels(responses)
    return {"model": _model_name(file), "task": task, "accuracy": sum(correct) / len(records), "n": len(records),
            "unparseable": {"count": unparseable, "share": unparseable / len(records)},
            "rules": dict(Counter(r.rule for r in read).most_common()),
            "cantonese_share": labels.count("cantonese") / len(records),
            "simplified_char_share": sum(map(scoring.simplified_char_share, responses)) / len(records),
            "labels": dict(Counter(labels))}


def _model_name(file: Path) -> str:
    """The model a published file is named after (MODEL_gsm8k_cantonese_0shot.json.gz), else the file's name."""
    name = file.name.removesuffix(".gz").removesuffix(".json")
    for infix in ("_gsm8k_", "_ARC-c_"):
        if infix in name:
            return name.split(infix)[0]
    return name


def _options(record: dict) -> list[tuple[str, str]]:
    # The range is a Python literal ("[['A', '…'], …]"); a three-option item holds the string 'None' for D.
    return [(letter, text) for letter, text in ast.literal_eval(record["standard_answer_range"]) if text != "None"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("paths", nargs="+", help="published output files (.json.gz)")
    args = parser.parse_args()
    results = [rescore(path, args.task) for path in args.paths]
    for path, result in zip(args.paths, results, strict=True):
        print(json.dumps({"path": path, **result}, ensure_ascii=False))
    print("\n| model | task | accuracy | unparseable | share |\n|---|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['model']} | {r['task']} | {r['accuracy']:.4f} | {r['unparseable']['count']} | "
              f"{r['unparseable']['share']:.2%} |")


if __name__ == "__main__":
    main()

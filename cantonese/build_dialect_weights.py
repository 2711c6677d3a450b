"""Builds the dialect detector's weights, cantonese/data/dialect_weights.tsv, from data that packages ship.

    .venv/bin/python -m canto_nemo.cantonese.build_dialect_weights

Tokens: the words, up to four Han characters, of pycantonese's rime-cantonese lexicon and of jieba's dict.txt (written
Chinese, Simplified, each word also in every Traditional standard OpenCC knows), plus the hand-made markers of
cantonese/dialect.py. A sentence is cut into tokens by greedy longest match, as the detector does.
Sentences (self-training: the hand-made markers label the CTCPC sentences, which mix both varieties):
- Cantonese: HKCanCor utterances, Common Voice yue sentences, CTCPC sentences the markers call Cantonese;
- written Chinese: CTCPC sentences the markers call written Chinese (Hong Kong written register, so Hong Kong words
  such as 立法會 learn that they are not Cantonese evidence), and sentences sampled from jieba's word frequencies.
Model: L2 logistic regression on token counts; a token's weight is its coefficient, the bias the intercept. A tenth of
the sentences is held out and the recall and precision on it are printed. It never reads ../shared/data/ud_hk or
../shared/data/yue_benchmark: those measure the detector, in benchmarks/dialect.py.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from importlib.resources import files
from pathlib import Path

import numpy as np

from canto_nemo.curator_stages.charclass import ranges

MAX_LEN = 4
HAN_CLASS = r"\p{Han}"
C = 1.0  # inverse L2 strength
MIN_ABS_WEIGHT = 0.05  # smaller weights are left out of the shipped table
SYNTHETIC_WRITTEN = 40_000
OUTPUT = Path(__file__).parent / "data" / "dialect_weights.tsv"


def jieba_frequencies() -> Counter:
    """Written-Chinese word -> frequency, in Simplified and in every Traditional standard OpenCC knows."""
    from canto_nemo.cantonese.variants import converter

    words: list[tuple[str, int]] = []
    with (files("jieba") / "dict.txt").open(encoding="utf-8") as f:
        for line in f:
            word, freq, *_ = line.split()
            words.append((word, int(freq)))
    joined = "\n".join(w for w, _ in words)
    # Hong Kong writes 説 where Taiwan and OpenCC's s2t write 說: keep every standard.
    forms = [converter(profile).convert(joined).split("\n") for profile in ("s2t", "s2hk", "s2tw")]
    freq: Counter = Counter()
    for i, (word, count) in enumerate(words):
        for form in sorted({word, *(f[i] for f in forms)}):  # sorted: set order changes between runs
            freq[form] += count
    return freq


def written_sample(freq: Counter, n: int, lengths: list[int], seed: int = 1) -> list[str]:
    """Sentences drawn from jieba's unigram word model, half in Hong Kong Traditional, half in Simplified."""
    from canto_nemo.cantonese.variants import converter

    rng = random.Random(seed)
    words = [w for w in freq if all("\u4e00" <= c <= "\u9fff" for c in w)]
    cumulative = list(itertools.accumulate(freq[w] for w in words))
    draws = iter(rng.choices(words, cum_weights=cumulative, k=sum(lengths) + n * MAX_LEN))
    sample = []
    for i in range(n):
        target, sentence = rng.choice(lengths), ""
        while len(sentence) < target:
            sentence += next(draws)
        sample.append(converter("s2hk").convert(sentence) if i % 2 else sentence)
    return sample


def labelled_sentences(written: Counter) -> tuple[list[str], list[str]]:
    """(Cantonese sentences, written-Chinese sentences)."""
    import pycantonese

    from canto_nemo.cantonese.corpora import iter_corpus
    from canto_nemo.cantonese.dialect import detect_with_markers

    cantonese = ["".join(words) for words in pycantonese.hkcancor().words(by_utterance=True)]
    cantonese += [s for _, s in iter_corpus("pycantonese:common_voice")]
    written_sentences = []
    for _, sentence in iter_corpus("pycantonese:ctcpc"):
        label = detect_with_markers(sentence).label
        if label == "cantonese":
            cantonese.append(sentence)
        elif label == "written_chinese":
            written_sentences.append(sentence)
    lengths = [len(s) for s in written_sentences]
    written_sentences += written_sample(written, SYNTHETIC_WRITTEN, lengths)
    return cantonese, written_sentences


def build() -> tuple[dict[str, float], float, dict[str, float]]:
    """(weights, bias, held-out metrics)."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    from canto_nemo.cantonese.dialect import CANTONESE_MARKERS, NEUTRAL_COMPOUNDS, WRITTEN_MARKERS, tokens
    from canto_nemo.cantonese.lexicon import words as cantonese_words

    written = jieba_frequencies()
    han = re.compile(f"[{ranges(HAN_CLASS)}]+")
    candidates = set(cantonese_words()) | set(written) | set(CANTONESE_MARKERS + WRITTEN_MARKERS + NEUTRAL_COMPOUNDS)
    vocabulary = sorted(w for w in candidates if len(w) <= MAX_LEN and han.fullmatch(w))
    index = {w: i for i, w in enumerate(vocabulary)}

    positives, negatives = labelled_sentences(written)
    rows, cols = [], []
    for row, sentence in enumerate(positives + negatives):
        for token in tokens(index, sentence):
            rows.append(row)
            cols.append(index[token])
    x = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(positives) + len(negatives), len(vocabulary)))
    y = np.array([1] * len(positives) + [0] * len(negatives))

    order = np.random.RandomState(0).permutation(len(y))
    train, held_out = order[: len(y) * 9 // 10], order[len(y) * 9 // 10 :]
    model = LogisticRegression(C=C, max_iter=300, solver="liblinear", random_state=0).fit(x[train], y[train])
    predicted = model.predict_proba(x[held_out])[:, 1] >= 0.5
    true_positive = int((predicted & (y[held_out] == 1)).sum())
    metrics = {"held_out_recall": true_positive / int((y[held_out] == 1).sum()),
               "held_out_precision": true_positive / max(1, int(predicted.sum()))}
    weights = {w: round(float(c), 4) for w, c in zip(vocabulary, model.coef_[0], strict=True)
               if abs(c) >= MIN_ABS_WEIGHT}
    return weights, float(model.intercept_[0]), metrics


def main(output: Path = OUTPUT) -> None:
    weights, bias, metrics = build()
    output.parent.mkdir(exist_ok=True)
    with output.open("w", encoding="utf-8") as f:
        f.write("# built by `python -m canto_nemo.cantonese.build_dialect_weights`; "
                "score = sigmoid(sum of weights + bias)\n")
        f.write(f"@scale\t1.0\n@bias\t{bias:.6f}\n")
        for token, weight in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
            f.write(f"{token}\t{weight}\n")
    print(f"wrote {output}: {len(weights)} tokens; held-out recall {metrics['held_out_recall']:.3f}, "
          f"precision {metrics['held_out_precision']:.3f}")


if __name__ == "__main__":
    main()

"""Builds the dialect model, cantonese/data/dialect_model.tsv, from training data only, bit for bit the same every
time:

    .venv/bin/python -m canto_nemo.cantonese.train_dialect [--data ../shared/data] [--output PATH]

Training data (../shared/data/dialect_train; licences in its README):
- Cantonese: the Cantonese side of kaifangcidian's parallel sentences, Tatoeba's Cantonese sentences, the Cantonese
  side of the word lists (kfcd_words, cmn2yue), and sentences of Cantonese Wikipedia (../shared/data/yue_wikipedia)
  that hold a character only Cantonese writes (much of that Wikipedia is neutral written prose: a sentence without
  such a character is no evidence either way, so it is not taught as Cantonese), and the sentences of pycantonese's
  CTCPC that hold such a character (conversation and dictionary examples: the chat-style Cantonese the other sources
  lack), less every one the curation's decontamination finds in an evaluation set (CTCPC holds most of ud_hk);
- written Chinese: the written side of the parallel sentences and of the word lists, Taiwan Wikipedia paragraphs and
  questions (DRCD), UD Chinese GSD and PUD, colloquial and official Taiwan Mandarin lines (moztw).
- written Chinese on the Cantonese side's own topics: the Cantonese Wikipedia sentences above rewritten word for word
  into written Chinese (`canto_nemo.cantonese.rewrite`), those with nothing Cantonese left (by the rewriter's word
  lists, and by a judge trained on the paired sources alone, which no topic sways), so that Hong Kong's names
  and topics occur on both sides and only the language tells them apart (CTCPC's conversations are not rewritten: what
  a word-for-word rewrite leaves of their Cantonese grammar, 個 as a determiner or 好 as "very", taught as written
  Chinese, cost more Cantonese than the rewrites gained; see benchmarks/2026-12-06-dialect-topic.md).
Names carry no weight: every title of a Cantonese Wikipedia article that is a proper noun (see `proper_nouns`) is cut
out of every training text, on both sides, so no n-gram of a name, or across one, is learnt.
Each Cantonese sentence is also taught once more in forum spelling (咗 as 左, 嚟 as 黎, 嘅 as 既, 嘢 as 野, 啲 as D:
each swap with probability one half, from a fixed seed), as LIHKG and other forums write it.

Every text is folded as the detector folds it (one script, NFKC, lower case) and cut into the detector's segments.
A segment that also occurs in an evaluation set (../shared/data/ud_hk, ../shared/data/yue_benchmark; compared after
folding, six characters or more) is left out, and the count is printed: those sets measure the model and never
train it. pycantonese's HKCanCor and Common Voice are not used: the demo's curation of them is a measurement of the
model too (its curation of CTCPC is not, since CTCPC now trains it).

Model: L1-regularised logistic regression (liblinear, seeded) on the counts of the segments' character 1- to 3-grams
that occur at least MIN_COUNT times, classes weighted to balance; weights smaller than MIN_WEIGHT are left out of
the file. L1 rather than L2: on the held-out segments both reach the same recall at the same false-positive rate
(96.8% of sentences of six Han characters or more at 0.3%), and L1 keeps about 8,000 n-grams instead of 85,000,
setting the shared vocabulary to zero, where L2 gives every word a little weight by the topics of the training
sources (an encyclopedia on the written side) and many such small weights outvote one Cantonese marker. A tenth of
the segments (by a hash of the text) is held out: the thresholds are set on its natural text (rewrites left out) (a
segment counts for Cantonese at the probability where CANTONESE_FPR of held-out written segments would; for written
Chinese where WRITTEN_FNR of held-out Cantonese segments would; then, per length band of the detector, tightened
where that band alone would exceed the rate), and the held-out figures are printed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np

from canto_nemo.cantonese import dialect

OUTPUT = dialect.MODEL_FILE
MIN_COUNT = 3
MIN_WEIGHT = 0.05
C = 1.0  # inverse L1 strength
CANTONESE_FPR = 0.005  # held-out written segments the Cantonese threshold lets through
WRITTEN_FNR = 0.02  # held-out Cantonese segments the written threshold takes for written Chinese
WIKI_SENTENCES = 40_000
SEED = 20261201
# Characters only Cantonese writes (selecting Wikipedia sentences that are Cantonese for certain).
CANTONESE_ONLY = frozenset("嘅咗喺嘢冇哋佢啲嗰咩嚟㗎噉嘞喎囉啩咪吖啫嚿攰瞓諗揾搵睇攞")
# The Cantonese that is rewritten into written Chinese; the written text that picks among a word's equivalents.
REWRITE_SOURCES = ("yue_wikipedia",)
REWRITE_WRITTEN_USE = ("kfcd_pairs", "drcd", "ud_zh", "moztw")
# The sources that hold the same sentence or word on both sides: what the parallel judge learns from.
PARALLEL_SOURCES = ("kfcd_pairs", "kfcd_words", "cmn2yue")
# Names (Wikipedia titles, see proper_nouns) are masked in the training texts, up to this many characters long.
NAME_CHARS = 8
PROPER_NOUN_TAGS = frozenset({"nr", "nrfg", "nrt", "ns", "nt", "nz"})
# Forum spellings of Cantonese characters.
FORUM_SPELLINGS = {"咗": "左", "嚟": "黎", "嘅": "既", "嘢": "野", "啲": "D", "哋": "地", "喺": "係", "冇": "無",
                   "畀": "比", "係": "系"}


def shared_data() -> Path:
    env = os.environ.get("CANTO_NEMO_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。！？!?])|\n", text) if s.strip()]


def cantonese_texts(data: Path) -> dict[str, list[str]]:
    """source -> Cantonese texts."""
    train = data / "dialect_train"
    kfcd = [line.rstrip("\n").split("|||") for line in (train / "kfcd_pairs.txt").open(encoding="utf-8")]
    tatoeba = [line.rstrip("\n").split("\t")[2] for line in (train / "tatoeba_yue.tsv").open(encoding="utf-8")]
    words = [line.rstrip("\n").split("\t")[0] for line in (train / "kfcd_words.tsv").open(encoding="utf-8")]
    cmn2yue = [line.rstrip("\n").split("|") for line in (train / "cmn2yue.dic").open(encoding="utf-8")][1:]
    wiki = []
    for path in sorted((data / "yue_wikipedia").glob("wiki_*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                wiki += [s for s in _sentences(json.loads(line)["text"]) if CANTONESE_ONLY & set(s)]
    wiki = sorted(set(wiki))
    random.Random(SEED).shuffle(wiki)
    return {"kfcd_pairs": [p[1] for p in kfcd if len(p) == 3], "tatoeba": tatoeba,
            "kfcd_words": words, "cmn2yue": [p[1] for p in cmn2yue if len(p) == 2 and p[0] != p[1]],
            "yue_wikipedia": wiki[:WIKI_SENTENCES], "ctcpc": ctcpc_sentences(data)}


def ctcpc_sentences(data: Path) -> list[str]:
    """CTCPC's sentences that hold a character only Cantonese writes (the corpus has written-Chinese lines too), less
    every one the curation's own decontamination finds in an evaluation set: CTCPC holds most of ud_hk."""
    from canto_nemo.cantonese.corpora import ctcpc
    from canto_nemo.curator_stages.decontaminate import EvalOverlapFilter

    overlap = EvalOverlapFilter([str(data / "ud_hk"), str(data / "yue_benchmark")], "cantonese")
    return [s for _, s in ctcpc() if CANTONESE_ONLY & set(s) and not overlap.score_document(s)]


def written_texts(data: Path) -> dict[str, list[str]]:
    """source -> written-Chinese texts."""
    train = data / "dialect_train"
    kfcd = [line.rstrip("\n").split("|||") for line in (train / "kfcd_pairs.txt").open(encoding="utf-8")]
    words = [line.rstrip("\n").split("\t") for line in (train / "kfcd_words.tsv").open(encoding="utf-8")]
    cmn2yue = [line.rstrip("\n").split("|") for line in (train / "cmn2yue.dic").open(encoding="utf-8")][1:]
    drcd = []
    for name in ("DRCD_dev.json.gz", "DRCD_test.json.gz"):
        with gzip.open(train / name, "rt", encoding="utf-8") as f:
            for article in json.load(f)["data"]:
                for paragraph in article["paragraphs"]:
                    drcd += _sentences(paragraph["context"])
                    drcd += [q["question"] for q in paragraph["qas"]]
    ud = []
    for path in sorted(train.glob("zh_*-ud-*.conllu.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            forms: list[str] = []
            for line in f:
                if line.startswith("#"):
                    continue
                if not line.strip():
                    if forms:
                        ud.append("".join(forms))
                    forms = []
                    continue
                fields = line.split("\t")
                if fields[0].isdigit():
                    forms.append(fields[1])
            if forms:
                ud.append("".join(forms))
    moztw = [line.strip() for line in (train / "moztw_cc0_zh_tw.txt").open(encoding="utf-8") if line.strip()]
    return {"kfcd_pairs": [p[2] for p in kfcd if len(p) == 3], "kfcd_words": [w[1] for w in words if len(w) == 2],
            "cmn2yue": [p[0] for p in cmn2yue if len(p) == 2 and p[0] != p[1]], "drcd": drcd, "ud_zh": ud,
            "moztw": moztw}


def rewrites(data: Path, cantonese: dict[str, list[str]], written: dict[str, list[str]]) -> list[str]:
    """The Cantonese Wikipedia sentences taught as Cantonese, rewritten into written Chinese word for word
    (`canto_nemo.cantonese.rewrite`), those with nothing Cantonese left: the same names and topic on both sides, so
    that only the language tells them apart (issue 28). "Nothing left" twice over: no character or word the rewriter
    knows as Cantonese, and no segment that the parallel judge (`parallel_judge`, which has seen no topic on one side
    only) finds more likely Cantonese than not; what a rewrite keeps of Cantonese grammar (個 as a determiner, 好 as
    "very"), taught as written Chinese, would cost the judge real Cantonese."""
    from canto_nemo.cantonese.rewrite import Rewriter

    rewriter = Rewriter(data, [t for source in REWRITE_WRITTEN_USE for t in written[source]],
                        CANTONESE_ONLY)
    out = [t for t in (rewriter.rewrite(t) for source in REWRITE_SOURCES for t in cantonese[source]) if t is not None]
    judge = parallel_judge(cantonese, written)
    segments, text_of_segment = segments_of_texts(out)
    probability, _ = held_out_probabilities(judge, segments)
    most_cantonese = np.zeros(len(out))
    np.maximum.at(most_cantonese, text_of_segment, probability)
    return [t for t, p in zip(out, most_cantonese, strict=True) if p < 0.5]


def parallel_judge(cantonese: dict[str, list[str]], written: dict[str, list[str]]) -> dialect.NgramDialectModel:
    """A judge trained on the paired sources alone (PARALLEL_SOURCES: the same sentence or word on both sides), so that
    no topic is evidence: what it weighs is the language. Its decision point is 0.5 (no calibrated thresholds)."""
    texts = [t for source in PARALLEL_SOURCES for t in cantonese[source]]
    labels = [1] * len(texts)
    for source in PARALLEL_SOURCES:
        texts += written[source]
        labels += [0] * len(written[source])
    sides: dict[str, set[int]] = {}
    for segment, i in zip(*segments_of_texts(texts), strict=True):
        sides.setdefault(segment, set()).add(labels[i])
    segments = [s for s, found in sides.items() if len(found) == 1]  # one copy each; on both sides: evidence of neither
    y = np.asarray([sides[s].pop() for s in segments])
    vocabulary, weights, bias = fit(segments, y, np.ones(len(segments), dtype=bool))
    keep = np.abs(weights) >= MIN_WEIGHT
    return dialect.NgramDialectModel(vocabulary[keep], weights[keep], bias, 0.5, 0.5)


def fit(segments: list[str], labels: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(n-gram codes, their logistic weights, bias): L1 logistic regression on the training segments' n-gram counts,
    over the n-grams that occur MIN_COUNT times or more in them."""
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    codes, position_segment, _ = dialect.segments(segments)
    segment_of, gram = dialect.ngrams(codes, position_segment)
    counts = Counter(gram[train[segment_of]].tolist())
    vocabulary = np.asarray(sorted(g for g, n in counts.items() if n >= MIN_COUNT), dtype=np.int64)
    column = np.searchsorted(vocabulary, gram)
    known = (column < len(vocabulary)) & (vocabulary[np.minimum(column, len(vocabulary) - 1)] == gram)
    x = csr_matrix((np.ones(int(known.sum())), (segment_of[known], column[known])),
                   shape=(len(segments), len(vocabulary)))
    x.sum_duplicates()
    model = LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", class_weight="balanced", max_iter=1000,
                               random_state=0)  # l1_ratio=1: L1
    model.fit(x[train], labels[train])
    return vocabulary, model.coef_[0], float(model.intercept_[0])


@cache
def proper_nouns(data: Path) -> frozenset[str]:
    """Names of places, institutions, people and lines: the titles of Cantonese Wikipedia's articles (two to
    NAME_CHARS Han characters, none only Cantonese writes) that are no Cantonese word of the word lists and that jieba's
    written-Chinese dictionary either lacks or tags as a proper noun (its common nouns, 研究 or 單車, are words)."""
    from canto_nemo.cantonese.vocab import jieba_frequencies, written_equivalents

    titles = set()
    for path in sorted((data / "yue_wikipedia").glob("wiki_*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            titles.update(json.loads(line)["title"] for line in f)
    han = re.compile(rf"[\u3400-\u9fff]{{2,{NAME_CHARS}}}")
    candidates = sorted(t for t in titles if han.fullmatch(t) and not CANTONESE_ONLY & set(t))
    candidates = [t for t in candidates if t not in written_equivalents(data)]
    common = jieba_frequencies()
    tags = jieba_tags()
    return frozenset(t for t, folded in zip(candidates, dialect.fold(candidates), strict=True)
                     if folded not in common or tags.get(folded) in PROPER_NOUN_TAGS)


def jieba_tags() -> dict[str, str]:
    from importlib.resources import files

    with (files("jieba") / "dict.txt").open(encoding="utf-8") as f:
        return {parts[0]: parts[2] for parts in (line.split() for line in f) if len(parts) == 3}


def mask_names(texts: list[str], names: frozenset[str]) -> list[str]:
    """Each name (longest first, left to right) replaced by a segment boundary: no n-gram of a name, or across one,
    is learnt, so a name carries no weight towards either label (issue 28)."""
    longest = max(map(len, names), default=0)
    out = []
    for text in texts:
        pieces, i, start = [], 0, 0
        while i < len(text):
            for n in range(min(longest, len(text) - i), 1, -1):
                if text[i : i + n] in names:
                    pieces += [text[start:i], "，"]
                    i += n
                    start = i
                    break
            else:
                i += 1
        out.append("".join(pieces) + text[start:] if pieces else text)
    return out


def evaluation_segments(data: Path) -> set[str]:
    """Every folded segment of six characters or more in the evaluation sets, names masked as in the training texts
    (a masked training text is cut into pieces, which are compared with the evaluation texts' same pieces)."""
    texts = []
    for path in sorted((data / "ud_hk").glob("*.conllu")):
        texts += [line[len("# text = "):].strip() for line in path.open(encoding="utf-8")
                  if line.startswith("# text = ")]
    for path in sorted((data / "yue_benchmark").glob("*.json")):
        for record in json.loads(path.read_text(encoding="utf-8")):
            texts += [v for v in record.values() if isinstance(v, str)]
    return {s for s in folded_segments(mask_names(texts, proper_nouns(data))) if len(s) >= 6}


def folded_segments(texts: list[str]) -> list[str]:
    """The detector's segments of each text, folded, as strings."""
    return segments_of_texts(texts)[0]


def segments_of_texts(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """(the detector's segments of the texts, folded, as strings; the text of each), folding and cutting once."""
    codes, position_segment, text_of_segment = dialect.segments(dialect.fold(texts))
    inner = (codes != dialect.START) & (codes != dialect.END)
    chars = "".join(map(chr, codes[inner].tolist()))
    lengths = np.bincount(position_segment[inner], minlength=int(position_segment.max(initial=-1)) + 1)
    out, at = [], 0
    for n in lengths.tolist():
        out.append(chars[at : at + n])
        at += n
    return out, text_of_segment


def forum_spelling(text: str, rng: random.Random) -> str:
    return "".join(FORUM_SPELLINGS[c] if c in FORUM_SPELLINGS and rng.random() < 0.5 else c for c in text)


def training_segments(data: Path) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """(segments, labels 1 Cantonese / 0 written, whether each is natural text rather than a rewrite, counts per
    source) after decontamination and de-duplication."""
    rng = random.Random(SEED)
    examples: list[tuple[str, int, bool]] = []
    report: dict = {"sources": {}}
    cantonese, written = cantonese_texts(data), written_texts(data)
    written["rewrites"] = rewrites(data, cantonese, written)
    for label, sources in ((1, cantonese), (0, written)):
        for source, texts in sources.items():
            report["sources"][f"{'cantonese' if label else 'written'}:{source}"] = len(texts)
            examples += [(t, label, source != "rewrites") for t in texts]
            if label == 1 and source != "yue_wikipedia":
                examples += [(forum_spelling(t, rng), 1, True) for t in texts]
    texts = mask_names([t for t, _, _ in examples], proper_nouns(data))
    segments, text_of_segment = segments_of_texts(texts)
    evaluation = evaluation_segments(data)
    seen: dict[str, int] = {}
    kept, contaminated, conflicting = [], 0, set()
    for segment, i in zip(segments, text_of_segment.tolist(), strict=True):
        _, label, natural = examples[i]
        if segment in evaluation:
            contaminated += 1
            continue
        if segment in seen:
            if seen[segment] != label:
                conflicting.add(segment)  # the same words on both sides: evidence of neither
            continue
        seen[segment] = label
        kept.append((segment, label, natural))
    final = [k for k in kept if k[0] not in conflicting]
    report.update(evaluation_overlaps_left_out=contaminated, on_both_sides_left_out=len(conflicting),
                  segments=len(final), cantonese_segments=sum(y for _, y, _ in final),
                  rewrite_segments=sum(not n for _, _, n in final))
    return ([s for s, _, _ in final], np.asarray([y for _, y, _ in final]), np.asarray([n for _, _, n in final]),
            report)


def held_out(segment: str) -> bool:
    import xxhash

    return xxhash.xxh64_intdigest(segment.encode("utf-8")) % 10 == 0


def build(data: Path) -> tuple[dict[int, float], dict[str, float], dict]:
    """(n-gram code -> weight, the @ values, report)."""
    segments, labels, natural, report = training_segments(data)
    test = np.asarray([held_out(s) for s in segments])
    vocabulary, coefficients, intercept = fit(segments, labels, ~test)
    weights = {int(g): round(float(w), 4) for g, w in zip(vocabulary, coefficients, strict=True)
               if abs(w) >= MIN_WEIGHT}
    bias = round(intercept, 6)

    # Thresholds from the held-out segments, scored exactly as the detector scores them, one pair per length band.
    scorer = dialect.NgramDialectModel(np.asarray(list(weights), dtype=np.int64),
                                       np.asarray(list(weights.values())), bias, 0.5, 0.5)
    # Rewrites are left out of the calibration: the thresholds are rates on natural text, which is what the judge meets.
    calibration = test & natural
    probability, band = held_out_probabilities(scorer, [s for s, c in zip(segments, calibration, strict=True) if c])
    y = labels[calibration]
    # The thresholds over all lengths, tightened in a band whose own held-out error rate they would let exceed the
    # target (short segments: few n-grams, noisier probabilities); never loosened, since in long bands, where the
    # classes barely overlap, the band's own quantile can cross the other threshold.
    every_cantonese_at = float(np.quantile(probability[y == 0], 1 - CANTONESE_FPR))
    every_written_at = float(np.quantile(probability[y == 1], WRITTEN_FNR))
    cantonese_at, written_at = [], []
    for b in range(len(dialect.LENGTH_BANDS) + 1):
        written_p, cantonese_p = probability[(band == b) & (y == 0)], probability[(band == b) & (y == 1)]
        cantonese_at.append(round(max(every_cantonese_at, float(np.quantile(written_p, 1 - CANTONESE_FPR))), 4))
        written_at.append(round(min(every_written_at, float(np.quantile(cantonese_p, WRITTEN_FNR))), 4))
    values = {"bias": bias, "cantonese_at": cantonese_at, "written_at": written_at}
    c_at, w_at = np.asarray(cantonese_at)[band], np.asarray(written_at)[band]
    report["held_out"] = {
        "segments": int(calibration.sum()),
        "cantonese_recall": round(float((probability[y == 1] >= c_at[y == 1]).mean()), 4),
        "written_as_cantonese": round(float((probability[y == 0] >= c_at[y == 0]).mean()), 4),
        "written_recall": round(float((probability[y == 0] <= w_at[y == 0]).mean()), 4),
        "cantonese_as_written": round(float((probability[y == 1] <= w_at[y == 1]).mean()), 4),
        "neutral_share": round(float(((probability > w_at) & (probability < c_at)).mean()), 4),
    }
    edges = (0, *dialect.LENGTH_BANDS, None)
    report["held_out"]["cantonese_recall_by_length"] = {
        f"{edges[b] + 1}-{edges[b + 1] or ''}": round(float((probability[(band == b) & (y == 1)] >= c).mean()), 4)
        for b, c in enumerate(cantonese_at)}
    report["ngrams"] = {"vocabulary": len(vocabulary), "written": len(weights)}
    return weights, values, report


def held_out_probabilities(scorer: dialect.NgramDialectModel, segments: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each already folded segment's probability, with the detector's shrinking for few Han characters, and its
    length band."""
    han_table, _, _, _ = dialect._tables()
    codes, position_segment, _ = dialect.segments(segments)
    n = int(position_segment.max(initial=-1)) + 1
    han = np.bincount(position_segment, weights=han_table[codes], minlength=n)
    logits = scorer.segment_logits(codes, position_segment, n) * han / (han + dialect.SHORT_SEGMENT_HAN)
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50))), dialect.length_band(han)


def write(weights: dict[int, float], values: dict[str, float], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w", encoding="utf-8") as f:
        f.write("# built by `python -m canto_nemo.cantonese.train_dialect`: character n-gram weights of the dialect "
                "model (frames \\x02 \\x03)\n")
        for key, value in values.items():
            f.write(f"@{key}\t{' '.join(map(str, value)) if isinstance(value, list) else value}\n")
        for code, weight in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])):
            ngram = dialect.decode(code)
            if "\t" not in ngram and "\r" not in ngram:  # the file's own separators
                f.write(f"{ngram}\t{weight}\n")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=shared_data())
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    weights, values, report = build(args.data)
    write(weights, values, args.output)
    print(json.dumps(report, ensure_ascii=False, indent=2))
    print(f"wrote {args.output}: {len(weights):,} n-grams, thresholds {values}")
    return report


if __name__ == "__main__":
    main()

"""Cantonese vs standard written Chinese, per text: a lexical detector.

Each sentence is cut into tokens by greedy longest match; each token carries a weight, positive for Cantonese. The
default weights are hand-made markers: words only spoken Cantonese uses (嘅, 咗, 喺, 佢哋, 而家...) against words
standard written Chinese uses in their place (的, 了, 在, 他們, 現在...), in Traditional and Simplified forms, with
compounds where a written marker is ordinary Cantonese too (的士, 不過...) counting for neither. method="learned"
uses weights learned from packaged corpora (cantonese/build_dialect_weights.py, cantonese/data/dialect_weights.tsv).
Per text: score = sigmoid(sum of the weights + bias); the Cantonese share is the part of the Han characters that sit
in sentences with positive evidence; both kinds of sentences in one text, in proportions between 20% and 80%, make it
"mixed". Kana or hangul make it "other", as does a text without Han characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container, Sequence
from functools import cache
from pathlib import Path

from canto_nemo.cantonese.variants import converter, script_of
from canto_nemo.curator_stages.charclass import ranges
from canto_nemo.curator_stages.language_pack import DialectDetector, DialectResult

LABELS = ("cantonese", "mixed", "written_chinese", "other")

CANTONESE_MARKERS = (
    "嘅 咗 喺 哋 嘢 冇 唔 佢 啲 嗰 咁 乜 嚟 畀 咩 㗎 噉 嘞 喎 囉 啩 咪 吖 啫 "
    "晒 嗮 睇 諗 谂 攞 搵 揾 嘥 瞓 啱 嚿 噃 咋 哂 俾 係 冧 "
    "而家 宜家 點解 点解 邊度 边度 邊個 边个 乜嘢 唔該 唔该 琴日 尋日 寻日 "
    "聽日 听日 頭先 头先 呢度 呢個 呢个 呢啲 "
    "點樣 点样 幾多 几多 幾時 几时 返工 返學 返学 食飯 食饭 好似 鍾意 钟意 "
    "中意 識得 识得 揸車 揸车 老豆 老母 塞車 塞车 "
    "攰 搞掂 搞掂 大鑊 大镬 搵工 落雨 傾偈 倾偈 咁樣 咁样 就嚟 啱啱 睇吓 等陣 等阵 陣間 阵间 一齊 一齐 邊便 边便 "
    "聽朝 听朝 今朝 琴晚 尋晚 寻晚 聽晚 听晚 係咪 系咪 唔係 成日 嘢食 搞咩 咁多 咁好"
).split()
WRITTEN_MARKERS = (
    "的 了 是 在 這 这 那 們 们 他 她 它 不 說 说 看 給 给 很 吧 嗎 吗 么 麼 和 與 与 "
    "沒有 没有 什麼 什么 怎麼 怎么 哪裡 哪里 這裡 这里 那裡 那里 東西 东西 現在 现在 為什麼 为什么 已經 已经 一些 "
    "這樣 这样 那樣 那样 喜歡 喜欢 知道 覺得 觉得 告訴 告诉 昨天 明天 今天 剛才 刚才 下雨 一起 時候 时候"
).split()
# Compounds in which a written-Chinese marker character is ordinary Cantonese too.
NEUTRAL_COMPOUNDS = (
    "的士 的確 的确 目的 了解 了不起 不過 不过 不如 不斷 不断 不同 不少 不好意思 不錯 不错 但是 可是 於是 于是 是否 "
    "存在 實在 实在 自在 在於 在于 正在 和平 和諧 和谐 總是 总是 還是 还是 只是 就是 都是 不是 他人 其他 其它 她們"
).split()

# The hand-made evidence: what the first detector used, and what the learned weights start from.
MARKER_WEIGHTS = {**{w: -1.0 for w in WRITTEN_MARKERS}, **{w: 1.5 for w in CANTONESE_MARKERS}}
MARKER_WEIGHTS.update({w: 0.0 for w in NEUTRAL_COMPOUNDS})
WEIGHTS_FILE = Path(__file__).parent / "data" / "dialect_weights.tsv"
MAX_TOKEN_LEN = 4

# Sentences, and quotations apart from their frame: written narration often quotes Cantonese speech.
_SENTENCES = re.compile(r"[^。！？!?\n「」『』]+[。！？!?\n」』]*")
SHORT_TEXT_CHARS = 4  # a text of this many Han characters gets half the confidence of a long one
SENTENCE_MARGIN = 1.0  # logit: a sentence is counted for a side when its own probability is beyond 73% / 27%
MIXED_SHARE = (0.2, 0.8)  # a document whose Cantonese share falls in here, with evidence on both sides, is mixed


@cache
def _scripts() -> tuple[re.Pattern, re.Pattern]:
    """Han, and the scripts that say a Han-using text is Japanese or Korean (kana, hangul)."""
    han, foreign = ranges(r"\p{Han}"), ranges(r"\p{Hiragana}\p{Katakana}\p{Hangul}")
    return re.compile(f"[{han}]"), re.compile(f"[{foreign}]")


def tokens(vocabulary: Container[str], text: str, starts: Container[str] | None = None) -> list[str]:
    """The vocabulary's tokens in text, by greedy longest match from left to right (training cuts sentences so too).
    starts: the first characters of the tokens, if known: positions where no token starts are skipped quickly."""
    found, i, n = [], 0, len(text)
    while i < n:
        if starts is not None and text[i] not in starts:
            i += 1
            continue
        for length in range(MAX_TOKEN_LEN, 0, -1):
            token = text[i : i + length]
            if token in vocabulary:
                found.append(token)
                i += length
                break
        else:
            i += 1
    return found


def evidence_with(weights: dict[str, float], text: str, starts: Container[str] | None = None) -> float:
    return sum(weights[t] for t in tokens(weights, text, starts))


class Detector(DialectDetector):
    """Per sentence, the summed token weights; per text, score = sigmoid(scale * total + bias)."""

    def __init__(self, weights: dict[str, float], scale: float, bias: float) -> None:
        self.weights, self.scale, self.bias = weights, scale, bias
        self.starts = frozenset(token[0] for token in weights)

    def detect_batch(self, texts: Sequence[str]) -> list[DialectResult]:
        return [self.detect(t) for t in texts]

    def detect(self, text: str) -> DialectResult:
        if script_of(text) == "simplified":  # the weights know Traditional best: read Simplified as HK Traditional
            text = converter("s2hk").convert(text)
        han_re, foreign_re = _scripts()
        han = len(han_re.findall(text))
        if han == 0:
            return DialectResult("other", 0.0, 0.0)
        foreign = len(foreign_re.findall(text))
        if foreign >= 2 and foreign / (foreign + han) > 0.05:
            return DialectResult("other", 0.0, 0.0)

        evidence = 0.0
        cantonese_chars = written_chars = 0
        for sentence in _SENTENCES.findall(text):
            weight = evidence_with(self.weights, sentence, self.starts)
            evidence += weight
            # A sentence counts for one side only when, alone, it would be labelled so with some confidence.
            logit = self.scale * weight + self.bias
            if logit > SENTENCE_MARGIN:
                cantonese_chars += len(han_re.findall(sentence))
            elif logit < -SENTENCE_MARGIN:
                written_chars += len(han_re.findall(sentence))

        # Few characters, little confidence: the logit shrinks towards 0 (its sign, and so the label, stays).
        logit = (self.scale * evidence + self.bias) * han / (han + SHORT_TEXT_CHARS)
        score = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, logit))))
        decided = cantonese_chars + written_chars
        share = cantonese_chars / decided if decided else score
        if cantonese_chars and written_chars and MIXED_SHARE[0] <= share <= MIXED_SHARE[1]:
            return DialectResult("mixed", score, share)
        return DialectResult("cantonese" if score >= 0.5 else "written_chinese", score, share)


# With no evidence either way, lean to "not Cantonese": a Cantonese corpus wants positive evidence.
MARKER_DETECTOR = Detector(MARKER_WEIGHTS, scale=1.0, bias=-0.3)


@cache
def learned_detector() -> Detector:
    """The detector with the weights built by `python -m canto_nemo.cantonese.build_dialect_weights` (shipped)."""
    weights, scale, bias = {}, 1.0, 0.0
    with WEIGHTS_FILE.open(encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                continue
            token, value = line.rstrip("\n").split("\t")
            if token == "@scale":
                scale = float(value)
            elif token == "@bias":
                bias = float(value)
            else:
                weights[token] = float(value)
    return Detector(weights, scale, bias)


def detect_with_markers(text: str) -> DialectResult:
    """The hand-made markers only (they also label the training sentences of the learned weights)."""
    return MARKER_DETECTOR.detect(text)


# The default is the marker detector: on benchmarks/dialect.py the learned weights gain about a point of recall on
# ud_hk but lose precision on both sets and run slower (see benchmarks/2026-11-23-dialect.md).
METHODS = ("markers", "learned")


def _detector(method: str) -> Detector:
    if method == "markers":
        return MARKER_DETECTOR
    if method == "learned":
        return learned_detector()
    msg = f"unknown dialect detection method {method!r}: use one of {METHODS}"
    raise ValueError(msg)


def detector(method: str = "markers") -> Detector:
    return _detector(method)


def detect_dialect(text: str, method: str = "markers") -> DialectResult:
    """Label ("cantonese", "written_chinese", "mixed", "other"), probability of Cantonese, and Cantonese share."""
    return _detector(method).detect(text)


def detect_dialect_batch(texts: Sequence[str], method: str = "markers") -> list[DialectResult]:
    detector = _detector(method)
    return [detector.detect(t) for t in texts]

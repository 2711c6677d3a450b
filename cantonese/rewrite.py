"""Cantonese -> standard written Chinese, word for word, for training the dialect judge on pairs that share their topic
(issue 28): the rewrite keeps every name and topic word of the Cantonese sentence and changes only its Cantonese words,
so what separates the two sides is the language alone.

The word mappings are the yue -> written direction of kaifangcidian's word list (kfcd_words.tsv) and of cmn2yue.dic
in ../shared/data/dialect_train (`vocab.written_equivalents`), less the words written Chinese writes too (jieba's
dictionary counts them WRITTEN_MIN_COUNT times or more: Hong Kong's written Chinese keeps 今日, 單車 and 中心, so
rewriting them would teach the judge that Hong Kong vocabulary is Cantonese), plus the particles and function words
below, which written Chinese drops or writes otherwise and the lists map poorly. The text is cut by greedy longest
match over the Cantonese words and over the written words of both lists (so that 食物 stays 食物 and only the verb 食
becomes 吃). Where a Cantonese word has several written equivalents, the one the written side of the training data
uses most is taken (嘅 -> 的, not 呢).

A rewrite is only kept (`rewrite` returns None otherwise) when nothing Cantonese is left in it: no character only
Cantonese writes, and nothing the mapping would rewrite again. Word for word is crude (word order, measure words and
aspect differ between the two), so the write-up reports how many rewrites of a sample read as natural written Chinese.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from canto_nemo.cantonese.dialect import fold
from canto_nemo.cantonese.vocab import jieba_frequencies, written_equivalents

# Sentence-final particles and a few function words the lists map badly (咪 -> 麥克風), set by hand: each is what
# standard written Chinese writes in its place ("" where it writes nothing).
PARTICLES = {"啦": "", "喇": "", "嘞": "", "囉": "", "喎": "", "啫": "", "㗎": "的", "吖": "", "啩": "吧",
             "咩": "嗎", "呀": "", "嘛": "嘛", "咪": "就", "咋": "而已", "喳": "", "噃": "", "嘅": "的",
             "咁": "這麼", "嗰": "那", "嗰啲": "那些", "呢啲": "這些", "呢個": "這個", "呢度": "這裡", "嗰度": "那裡",
             "乜嘢": "什麼", "乜": "什麼", "係咪": "是不是", "唔係": "不是", "冇": "沒有", "畀": "給", "俾": "給",
             "佢哋": "他們", "哋": "們", "咗": "了", "緊": "", "喺": "在", "嘢": "東西", "啲": "些", "嚟": "來",
             "嘅話": "的話", "佢": "他", "唔": "不", "係": "是", "睇": "看", "攞": "拿", "搵": "找", "揾": "找",
             "諗": "想", "瞓": "睡", "仲": "還", "晒": "全", "噉": "這樣", "同": "和", "食": "吃", "飲": "喝",
             "講": "說", "啱": "對", "呢": "這", "邊": "哪", "咩事": "什麼事", "嚿": "塊", "揸": "開", "郁": "動",
             "屋企": "家", "好多": "很多", "好少": "很少", "好似": "好像", "好難": "很難", "好易": "很容易",
             "好快": "很快", "好大": "很大", "好細": "很小", "去到": "到"}
# Single characters are too ambiguous to take from the lists (cmn2yue maps 月 to 月餅 and 第 to 別): only the hand-set
# ones above are rewritten; from the lists, words of two characters or more that written Chinese does not write.
MAX_WORD = 6
# A list word jieba's dictionary counts this often is written Chinese too, and is not rewritten: its rare entries are
# often Cantonese (返工 6, 落雨 3, 火燭 28), its common ones the shared or Hong Kong vocabulary (單車 83, 今日 10,258).
WRITTEN_MIN_COUNT = 50
# Single characters that, standing alone after the rewrite (not inside a written word such as 電話 or 首先), are
# Cantonese grammar the mapping does not cover (話 "to say", 先 after the verb, 成 "as much as", 搭 "to take (a bus)",
# 埋 "along", 返 "back"): a rewrite that keeps one is left out, or the written side would teach them.
LEFT_OVER = frozenset("話先點成搭揀埋緊度返番嚟喇架咁乜邊俾啱晒執郁嘥嚮")


def written_lexicon(min_count: int = WRITTEN_MIN_COUNT) -> list[str]:
    """jieba's written-Chinese words counted at least `min_count` times (Simplified, as jieba ships them)."""
    return [w for w, n in jieba_frequencies().items() if n >= min_count]


def hk_forms(words: list[str]) -> list[str]:
    from canto_nemo.cantonese.variants import converter

    return converter("s2hk").convert("\n".join(words)).split("\n")


class Rewriter:
    def __init__(self, data: Path, written_corpus: Iterable[str], cantonese_only: frozenset[str]) -> None:
        equivalents = written_equivalents(data, keep_same=True)
        pairs = [(yue, zh) for yue, zhs in equivalents.items() for zh in zhs]
        written = {zh for zhs in equivalents.values() for zh in zhs}
        lexicon = written_lexicon()
        writes = frozenset(fold(lexicon))
        candidates: dict[str, list[str]] = {}
        for (yue, zh), folded in zip(pairs, fold([yue for yue, _ in pairs]), strict=True):
            # a written side much longer than the word is a gloss (神經 -> 精神不太正常), not a word; a word written
            # Chinese also writes (今日, 單車, 中心: Hong Kong's written Chinese keeps them) stays
            if (yue != zh and 2 <= len(yue) <= MAX_WORD and len(zh) <= len(yue) + 1 and yue not in written
                    and folded not in writes and "…" not in zh and "，" not in zh):
                candidates.setdefault(yue, []).append(zh)
        # how often the written side uses each candidate, counted once over one joined text
        corpus = "\n".join(written_corpus)
        use = Counter({zh: corpus.count(zh) for zhs in candidates.values() if len(set(zhs)) > 1 for zh in set(zhs)})
        self.mapping = {yue: max(zhs, key=lambda z: (use[z], -len(z), z)) for yue, zhs in sorted(candidates.items())}
        self.mapping.update(PARTICLES)
        # a written word that is no Cantonese word stays as it is, and shields the characters inside it: the lists'
        # written sides, and jieba's words that hold a character rewritten alone (食物, 同學, 講座: the verb 食
        # becomes 吃, the noun stays); not jieba's other words, whose common entries include Cantonese ones (一齊)
        alone = {k for k in PARTICLES if len(k) == 1}
        for word in written | {w for w in hk_forms(lexicon) if alone & set(w) and not cantonese_only & set(w)}:
            if len(word) <= MAX_WORD and word not in self.mapping:
                self.mapping[word] = word
        self.cantonese_only = cantonese_only

    def _once(self, text: str) -> str:
        return "".join(self._words(text)[1])

    def _words(self, text: str) -> tuple[list[str], list[str]]:
        """(the words of the text, by greedy longest match, and what each becomes)."""
        words, out, i = [], [], 0
        while i < len(text):
            for n in range(min(MAX_WORD, len(text) - i), 0, -1):
                word = text[i : i + n]
                if word in self.mapping:
                    words.append(word)
                    out.append(self.mapping[word])
                    i += n
                    break
            else:
                words.append(text[i])
                out.append(text[i])
                i += 1
        return words, out

    def rewrite(self, text: str) -> str | None:
        """The written-Chinese rewrite of a Cantonese sentence; None if Cantonese is left in it or nothing changed."""
        out = self._once(text)
        if out == text or self.cantonese_only & set(out):
            return None
        words, again = self._words(out)
        if "".join(again) != out or LEFT_OVER & set(words):
            return None
        return out

from nemo_curator.stages.text.filters.heuristic.string import NonAlphaNumericFilter, PunctuationFilter

from canto_nemo.curator_stages.clean import DictionaryAwareCleaner
from canto_nemo.curator_stages.normalize import Normalizer
from canto_nemo.curator_stages.quality import (
    CharLengthFilter,
    RepeatedCharNGramFilter,
    RepeatedLinesFilter,
    ScriptRatioFilter,
    SymbolRatioFilter,
)

DEFAULT_FILTERS = [CharLengthFilter(5, 100_000), ScriptRatioFilter("cantonese", 0.3), SymbolRatioFilter(0.4),
                   RepeatedLinesFilter(0.3), RepeatedCharNGramFilter(10, 0.6)]


def keeps(f, text: str) -> bool:
    return f.keep_document(f.score_document(text))


def test_length_counts_characters_not_whitespace_words():
    f = CharLengthFilter(min_chars=10, max_chars=20)
    assert keeps(f, "我哋今日去咗飲茶好開心")  # one whitespace "word", eleven characters
    assert not keeps(f, "我哋 去") and f.reject_reason(f.score_document("我哋 去")) == "too_short"
    assert f.reject_reason(f.score_document("好" * 21)) == "too_long"


def test_script_ratio_keeps_code_switching_but_drops_english():
    f = ScriptRatioFilter("cantonese", min_ratio=0.3)
    assert keeps(f, "我聽朝要submit個report")
    assert not keeps(f, "This thread is entirely English with one word 香港")


def test_symbols_and_repetition():
    assert not keeps(SymbolRatioFilter(0.4), "！！？？@@##好")
    assert not keeps(RepeatedLinesFilter(0.3), "買嘢啦\n買嘢啦\n買嘢啦\n今日")
    assert keeps(RepeatedLinesFilter(0.3), "第一行\n第二行\n第三行")
    spam = "快啲嚟買平嘢啦最平最抵" * 20
    assert not keeps(RepeatedCharNGramFilter(10, 0.6), spam)
    assert keeps(RepeatedCharNGramFilter(10, 0.6), "佢哋喺度食緊飯，我哋聽日先去睇戲，你嚟唔嚟呀？天氣咁熱，記得帶遮。")


def test_real_cantonese_posts_survive_where_stock_filters_drop_them(lihkg_posts):
    normalizer, cleaner = Normalizer("cantonese"), DictionaryAwareCleaner("cantonese")
    cleaned = [cleaner.modify_document(normalizer.modify_document(p)) for p in lihkg_posts]
    ours = sum(all(keeps(f, p) for f in DEFAULT_FILTERS) for p in cleaned) / len(cleaned)
    stock_alnum = sum(keeps(NonAlphaNumericFilter(), p) for p in lihkg_posts) / len(lihkg_posts)
    stock_punct = sum(keeps(PunctuationFilter(), p) for p in lihkg_posts) / len(lihkg_posts)
    assert ours > 0.9
    assert stock_alnum < 0.1 and stock_punct < 0.1


def test_batch_scores_are_the_per_document_scores_to_the_bit(shared_data, lihkg_posts):
    """score_batch (what the pipeline calls) against score_document on 2,000 real documents and the edge cases: the
    same float for every one, so no label or reject changes."""
    import gzip
    import json

    import pandas as pd

    wiki = []
    for path in sorted((shared_data / "yue_wikipedia").glob("wiki_*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            wiki += [json.loads(line)["text"] for line in f][:2_000 - len(lihkg_posts) - len(wiki)]
    edge = ["", " \n\t", "😀😀😀 !!!", "我聽朝要submit個report", "English only_words and 123", "〇々〻",
            "x" * 1000, "，。！？", "\u3000全形空白\u00a0nbsp", "ℌ𝔢𝔩𝔩𝔬 ①②③ ½"]
    edge += ["ab" * 30, "一二三四五六七八九十" * 3 + " \n一二三四五 六七八九十", "好" * 19, "好" * 20]
    texts = pd.Series(wiki + lihkg_posts + edge, index=range(5, 5 + 2_000 + len(edge)))  # an index not from 0
    for f in (ScriptRatioFilter("cantonese", 0.3), SymbolRatioFilter(0.4), RepeatedCharNGramFilter(10, 0.6),
              RepeatedCharNGramFilter(3, 0.6)):
        batch = f.score_batch(texts)
        assert list(batch.index) == list(texts.index)
        assert batch.tolist() == [f.score_document(t) for t in texts], type(f).__name__
    assert any(0 < s < 1 for s in RepeatedCharNGramFilter(10, 0.6).score_batch(texts))  # the test can fail


def test_repeated_ngram_batch_scores_survive_hash_collisions(lihkg_posts, monkeypatch):
    """With a window hash that collides on purpose (the sum of the characters: every anagram collides), the batch
    scores are still score_document's: collisions are found and those texts scored one by one."""
    import numpy as np
    import pandas as pd

    from canto_nemo.curator_stages import quality

    texts = pd.Series([*lihkg_posts[:300], "甲乙丙丁戊己庚辛壬癸" + "癸壬辛庚己戊丁丙乙甲" + "子丑寅卯辰巳午未申酉"])
    f = RepeatedCharNGramFilter(10, 0.6)
    expected = [f.score_document(t) for t in texts]
    monkeypatch.setattr(quality, "_WINDOW_BASE", np.uint64(1))
    monkeypatch.setattr(quality, "_TEXT_MIX", np.uint64(0))  # and across texts
    assert f.score_batch(texts).tolist() == expected
    assert expected[-1] == 0.0  # the anagrams are no repeat

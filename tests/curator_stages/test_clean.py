import random
from functools import cache

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from canto_nemo.cantonese import PACK
from canto_nemo.curator_stages.clean import DictionaryAwareCleaner

CLEANER = DictionaryAwareCleaner("cantonese")
EMOJI_REMOVER = DictionaryAwareCleaner("cantonese", emoji="remove")
HAN = regex.compile(r"\p{Han}")


def clean(text: str) -> str:
    return CLEANER.modify_document(text)


def test_urls_html_and_entities_go():
    assert clean("睇片 https://www.youtube.com/watch?v=abc123 好正") == "睇片 好正"
    assert clean("<p>我哋<b>今日</b>去&amp;玩</p>") == "我哋今日去&玩"


def test_wiki_templates_go_but_their_han_parameters_stay():
    assert clean("香港{{lang|en|Hong Kong}}係城市") == "香港係城市"
    assert clean("睇埋{{main|香港歷史}}") == "睇埋香港歷史"
    assert clean("[[香港]]同[[Kowloon|九龍]]") == "香港同九龍"


def test_a_wiki_link_whose_target_is_han_is_kept_rather_than_lose_words():
    assert clean("[[九龍|九龍半島]]") == "[[九龍|九龍半島]]"


def test_coordinates_romanisation_and_repeated_punctuation_go():
    assert clean("位於22°16′42″N 114°09′32″E。") == "位於。"
    assert clean("香港（hoeng1 gong2）係城市") == "香港係城市"
    assert clean("好正！！！！！") == "好正！"
    assert clean("係咪…………") == "係咪……"


def test_emoji_policy():
    assert clean("好正😂👍🏻") == "好正😂👍🏻"
    assert EMOJI_REMOVER.modify_document("好😂正👍🏻") == "好正"


def test_a_mixed_script_lexicon_word_is_never_cut():
    assert "IT狗" in PACK.lexicon()
    # The URL rule would stop at 狗 and cut "IT" off the word; the guard refuses that edit.
    assert clean("我係IT狗http://x.com/IT狗") == "我係IT狗http://x.com/IT狗"


def test_extension_b_characters_in_debris_survive():
    assert clean("{{lang|yue|𠮶個𨋢}}") == "𠮶個𨋢"


DEBRIS = ["https://lihkg.com/thread/123?page=2", "<br/>", "&nbsp;", "{{cite web|url=x}}", "{{lang|zh|香港}}",
          "[[File:x.jpg]]", "[[香港]]", "[[A|九龍]]", "[[九龍|九龍半島]]", "22°16′N 114°09′E", "（hoeng1 gong2）",
          "！！！！", "😂😂", "（）", "，，", "   ", "IT", "http://x.com/IT", "www.example.com", "<b>", "…………"]


@cache
def _lexicon_sample(seed: int, n: int = 400) -> list[str]:
    return random.Random(seed).sample(sorted(PACK.lexicon()), n)


@st.composite
def dirty_text(draw):
    words = _lexicon_sample(draw(st.integers(0, 5)))
    pieces = draw(st.lists(st.one_of(st.sampled_from(words), st.sampled_from(DEBRIS),
                                     st.sampled_from(["𠮶", "𨋢", "𡃁", "嘅", "咗", "㗎"]), st.text(max_size=5)),
                           max_size=30))
    return "".join(pieces)


@settings(max_examples=200, deadline=None)
@given(dirty_text())
def test_cleaner_never_removes_a_han_character(text):
    out = EMOJI_REMOVER.modify_document(text)
    assert HAN.findall(out) == HAN.findall(text)


@settings(max_examples=200, deadline=None)
@given(dirty_text())
def test_cleaner_never_removes_or_splits_a_lexicon_word(text):
    out = EMOJI_REMOVER.modify_document(text)
    lexicon = PACK.lexicon()
    for i in range(len(text)):
        for j in range(i + 2, min(len(text), i + 12) + 1):
            word = text[i:j]
            if word in lexicon and HAN.search(word):
                assert out.count(word) >= text.count(word), word


def test_cleaning_real_posts_keeps_every_han_character(lihkg_posts):
    for post in lihkg_posts:
        assert HAN.findall(EMOJI_REMOVER.modify_document(post)) == HAN.findall(post)


def _without_hints(cleaner: DictionaryAwareCleaner) -> DictionaryAwareCleaner:
    from dataclasses import replace

    bare = DictionaryAwareCleaner("cantonese", emoji="remove")
    bare.rules = [replace(rule, hint=None) for rule in cleaner.rules]
    return bare


@settings(max_examples=300, deadline=None)
@given(dirty_text())
def test_a_rules_hint_only_skips_texts_the_rule_leaves_alone(text):
    assert EMOJI_REMOVER.modify_document(text) == _without_hints(EMOJI_REMOVER).modify_document(text)


def test_hints_change_nothing_on_real_text(lihkg_posts, shared_data):
    import gzip
    import json

    hinted = [rule.name for rule in EMOJI_REMOVER.rules if rule.hint is not None]
    assert {"repeated_punctuation", "url", "coordinate"} <= set(hinted)
    with gzip.open(shared_data / "yue_wikipedia" / "wiki_00.jsonl.gz", "rt", encoding="utf-8") as f:
        articles = [json.loads(line)["text"] for line in f]
    bare = _without_hints(EMOJI_REMOVER)
    texts = [*lihkg_posts, *articles]
    changed = [t for t in texts if EMOJI_REMOVER.modify_document(t) != t]
    assert len(changed) > 100  # the rules had work to do
    assert [EMOJI_REMOVER.modify_document(t) for t in texts] == [bare.modify_document(t) for t in texts]

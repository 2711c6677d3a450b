from hypothesis import given, settings
from hypothesis import strategies as st

from canto_nemo.curator_stages.normalize import Normalizer

NORMALIZER = Normalizer("cantonese")


def norm(text: str) -> str:
    return NORMALIZER.modify_document(text)


def test_full_width_letters_and_digits_fold_but_cjk_punctuation_stays():
    assert norm("ＡＢＣ１２３，你好！") == "ABC123，你好！"


def test_ellipsis_and_cantonese_characters_survive():
    text = "佢話𠮶度有部𨋢，個𡃁仔喺度等……"
    assert norm(text) == text


def test_ascii_punctuation_after_han_becomes_full_width():
    assert norm("係咪?真係?!好,") == "係咪？真係？！好，"
    assert norm("version 2.0, ok?") == "version 2.0, ok?"


def test_whitespace_is_normalised():
    assert norm("  我哋\u3000去\u00a0飲茶\r\n\r\n\r\n\r\n好\u200b嘢  ") == "我哋 去 飲茶\n\n好嘢"


def test_simplified_input_becomes_hong_kong_traditional():
    assert norm("这里的东西很好吃") == "這裏的東西很好吃"


def test_variants_can_be_switched_off():
    assert Normalizer("cantonese", variants=None).modify_document("这里") == "这里"


def test_mojibake_is_repaired():
    assert norm("æˆ‘å“‹") == "我哋"


def test_control_characters_removed_but_emoji_joiners_kept():
    family = "👨\u200d👩\u200d👧"
    assert norm(f"好\x07嘢{family}") == f"好嘢{family}"


REAL_SAMPLES = ["我聽朝要submit個report", "佢哋喺度食緊飯，你嚟唔嚟？", "这个系统唔work", "ＬＩＨＫＧ討論區!!!"]
text_strategy = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list("我哋喺度嘅咗𠮶𨋢𡃁这里东西，。！？,.!? \n\r\t\u3000ＡＢ１２…「」"))),
    st.sampled_from(REAL_SAMPLES),
)


@settings(max_examples=300, deadline=None)
@given(text_strategy)
def test_normalising_twice_changes_nothing(text):
    once = norm(text)
    assert norm(once) == once


def test_normalising_real_posts_twice_changes_nothing(lihkg_posts):
    for post in lihkg_posts[:300]:
        once = norm(post)
        assert norm(once) == once


def _fold_every_text(normalizer, text: str) -> str:
    import unicodedata

    from canto_nemo.curator_stages.normalize import _fold_table

    table = _fold_table(normalizer.keep_fullwidth_punctuation, normalizer.pack.halfwidth_punctuation)
    return unicodedata.normalize("NFC", text.translate(table))


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_a_text_the_hint_passes_over_has_nothing_to_fold(text):
    assert NORMALIZER._fold(text) == _fold_every_text(NORMALIZER, text)


def test_the_fold_hint_changes_nothing_on_real_text(lihkg_posts, shared_data):
    import gzip
    import json

    normalizer = Normalizer(pack="cantonese")
    with gzip.open(shared_data / "yue_wikipedia" / "wiki_02.jsonl.gz", "rt", encoding="utf-8") as f:
        texts = [*lihkg_posts, *(json.loads(line)["text"] for line in f), "ＡＢＣ１２３\u3000全形", "\u200b零寬\x07"]
    folded = [normalizer._fold(t) for t in texts]
    assert folded == [_fold_every_text(normalizer, t) for t in texts]
    assert sum(f != t for f, t in zip(folded, texts, strict=True)) > 10

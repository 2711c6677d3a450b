import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canto_nemo.cantonese.pii import hkid_is_valid, luhn_is_valid
from canto_nemo.curator_stages.pii import PiiRedactor

REDACTOR = PiiRedactor("cantonese")


def redact(text: str) -> str:
    return REDACTOR.modify_document(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我電話係 +852 9123 4567 搵我", "我電話係 <PHONE> 搵我"),
        ("打去85291234567啦", "打去<PHONE>啦"),
        ("電話91234567", "電話<PHONE>"),
        ("寫信去 chan.tai.man@gmail.com 啦", "寫信去 <EMAIL> 啦"),
        ("身份證A123456(3)", "身份證<HKID>"),
        ("身份證 AB987654(3) 呀", "身份證 <HKID> 呀"),
        ("身份證A123456(4)", "身份證<HKID>"),  # the written form with a wrong check digit: a typo, still an ID
        ("身份證Ａ１２３４５６（７）", "身份證Ａ１２３４５６（７）"),  # full-width: the normaliser folds it first
        ("卡號 4111 1111 1111 1111 唔好話人知", "卡號 <CARD> 唔好話人知"),
        ("伺服器 192.168.1.1 死咗", "伺服器 <IP> 死咗"),
    ],
)
def test_hong_kong_pii_becomes_typed_placeholders(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    ["價錢 12345678 蚊", "日期20191231", "預左3000-5000蚊", "逢星期三 2130-2230 播", "(2016-2019) 嗰幾年",
     "身份證 Z6837756 唔啱 check digit", "卡號 4111 1111 1111 1112",
     "version 1.2.3.4.5", "一共 3000 人"],
)
def test_look_alikes_stay(text):
    assert redact(text) == text


def test_hkid_check_digit():
    assert hkid_is_valid("A123456(3)") and hkid_is_valid("AB9876543")
    assert not hkid_is_valid("A123456(4)")


def test_luhn():
    assert luhn_is_valid("4111111111111111") and not luhn_is_valid("4111111111111112")


def test_kinds_can_be_chosen_and_unknown_kinds_are_refused():
    assert PiiRedactor("cantonese", kinds=["EMAIL"]).modify_document("a@b.com 91234567") == "<EMAIL> 91234567"
    with pytest.raises(ValueError, match="unknown PII kinds"):
        PiiRedactor("cantonese", kinds=["SSN"])


PII_LIKE = st.text(alphabet="0123456789 -+.@()（）AZaz852電話", max_size=40)


@settings(max_examples=500, deadline=None)
@given(PII_LIKE)
def test_a_patterns_hint_is_found_wherever_the_pattern_matches(text):
    for pii in REDACTOR.patterns:
        if pii.hint is not None and pii.pattern.search(text):
            assert pii.hint.search(text), (pii.kind, text)


def test_hints_change_nothing_on_real_text(lihkg_posts, shared_data):
    import gzip
    import json
    from dataclasses import replace

    assert all(pii.hint is not None for pii in REDACTOR.patterns)
    bare = PiiRedactor("cantonese")
    bare.patterns = [replace(pii, hint=None) for pii in bare.patterns]
    with gzip.open(shared_data / "yue_wikipedia" / "wiki_01.jsonl.gz", "rt", encoding="utf-8") as f:
        articles = [json.loads(line)["text"] for line in f]
    examples = ["我電話係 +852 9123 4567 搵我", "寫信去 chan.tai.man@gmail.com 啦", "身份證 AB987654(3) 呀",
                "卡號 4111-1111-1111-1111", "伺服器 192.168.1.1 死咗"]
    texts = [*lihkg_posts, *articles, *examples]
    assert sum(redact(t) != t for t in texts) >= len(examples)
    assert [redact(t) for t in texts] == [bare.modify_document(t) for t in texts]

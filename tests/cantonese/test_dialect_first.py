"""The first detector's contract (its accuracy is issue 3's benchmark, not a test here)."""

import pytest

from canto_nemo.cantonese import PACK, detect_dialect, detect_dialect_batch


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("佢哋喺度食緊飯，你嚟唔嚟呀？", "cantonese"),
        ("他們在吃飯，你來不來？", "written_chinese"),
        ("佢哋喺度食紧饭，你嚟唔嚟呀？", "cantonese"),  # Simplified script
        ("我聽朝要submit個report", "cantonese"),
        ("東京は日本の首都です", "other"),
        ("hello world", "other"),
        ("他說：「我哋聽日去飲茶啦。」然後他就離開了。這件事讓大家都很驚訝。", "mixed"),
    ],
)
def test_labels(text, label):
    assert detect_dialect(text).label == label


def test_scores_are_probabilities_and_batch_agrees():
    texts = ["佢哋喺度食緊飯，你嚟唔嚟呀？", "他們在吃飯，你來不來？", "好", ""]
    results = detect_dialect_batch(texts)
    assert results == [detect_dialect(t) for t in texts] == PACK.dialect_detector().detect_batch(texts)
    assert all(0.0 <= r.score <= 1.0 and 0.0 <= r.share <= 1.0 for r in results)
    assert results[0].score > 0.9 > 0.1 > results[1].score


def test_short_texts_get_less_confidence_than_long_ones_with_the_same_evidence():
    short, long = detect_dialect("佢哋喺度"), detect_dialect("佢哋喺度，今日天氣幾好，出面有好多人行街")
    assert short.label == long.label == "cantonese"
    assert 0.5 < short.score < long.score


def test_text_without_evidence_gets_a_low_confidence_answer():
    result = detect_dialect("好")
    assert 0.3 < result.score < 0.5


def test_learned_weights_are_available_and_unknown_methods_refused():
    assert detect_dialect("佢哋喺度食緊飯，你嚟唔嚟呀？", method="learned").label == "cantonese"
    assert detect_dialect("他們在吃飯，你來不來？", method="learned").label == "written_chinese"
    with pytest.raises(ValueError, match="unknown dialect detection method"):
        detect_dialect("好", method="magic")

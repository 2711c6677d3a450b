"""Answer extraction and dialect fidelity for Yue-Benchmark, as pure functions (no lm-eval import).

The lm-eval tasks (tasks/utils.py) and the re-scoring of the benchmark authors' published outputs (rescore.py) both
call these, so a model's answers are judged by one rule wherever they come from:

- `answer_part`: the response up to where the model starts writing a question of its own (base models continue the
  prompt's pattern; what follows is not their answer).
- `extract_number` (GSM8K): an explicitly marked answer (`####18`, `答案係18`, alone on its line), else the last line
  that holds a number; within that line the last number that is not one of the question's own quantities (a
  Cantonese final sentence often restates them: "Mark需要23磅填充物先可以整4張狗床"). Full-width digits,
  thousands separators and spelled-out numerals after a marker (`#### 十個`) are read.
- `extract_choice` (ARC): a leading letter (`C`, `C. 行星…`), else an answer phrase (`答案係C`, `答案：C`,
  `The correct answer is C`), a choice phrase (`選C`, `揀C`), the one option restated on a line of its own, a
  letter in brackets (`(C)`), the one option whose text the response quotes.
- Fidelity: the dialect judge's label per response, the share of Simplified-only characters among its Han
  characters, and the mean of the pack's alignment reward (`dialect_reward_mean`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

# Models answer in full-width forms as often as in ASCII; one translation makes every rule below see ASCII.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．－＄ＡＢＣＤ（）［］：", "0123456789.-$ABCD()[]:")

# A hyphen after a digit, a Latin letter or a bracket is subtraction (16-3-4=9, x-5), not a sign.
_NUMBER = r"(?:(?<![0-9A-Za-z)\]])-)?\d+(?:,\d{3})*(?:\.\d+)?"
_NUMBER_RE = re.compile(_NUMBER)
_MARKER = r"(?:####|答案[ \t]*(?:係|是|為|为)|答案[ \t]*:|答[ \t]*:)"
# A marked answer: the marker, the number, at most a unit and punctuation, the end of the line ("####18",
# "#### $520", "答案係18。", "#### 132湯匙"). A marker followed by a sentence holding several numbers is not this.
_MARKED = re.compile(_MARKER + r"[ \t:]*\$?[ \t]*(" + _NUMBER + r")[^\d\n]{0,6}$", re.M)
_SPELLED = re.compile(r"[零〇一二兩两三四五六七八九十百千萬万]+")
_MARKER_RE = re.compile(_MARKER)
_NEW_QUESTION = re.compile(r"\n\s*(?:問題|问题|Question)\s*:")

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}

_LETTER = r"([A-D])(?![A-Za-z])"
_LEAD = re.compile(r"^\s*[(\[]?([A-D])(?:\s*$|\s*[.:、)\]\n。，,]|\s+(?=[^\x00-\x7f]))")
_ANSWER_PHRASE = re.compile(r"(?:答案|回應|回应|(?i:answer|response))\s*(?:應該|应该|應|应|(?i:should be))?\s*"
                            r"(?:係|是|為|为|(?i:is))?\s*:?\s*[(\[]?\s*" + _LETTER)
_CHOICE_PHRASE = re.compile(r"(?:選項|选项|選擇|选择|選|选|揀|拣|(?i:option|choice))[ \t]*(?:係|是|為|为|(?i:is))?"
                            r"[ \t]*:?[ \t]*[(\[]?[ \t]*" + _LETTER)
_LINE_START = re.compile(r"^[ \t]*[(\[]?([A-D])[.:、)\]]", re.M)
_BRACKETED = re.compile(r"[(\[]([A-D])[)\]]")


def answer_part(text: str) -> str:
    """The response, in ASCII where it used full-width forms, up to a question the model goes on to write itself
    (`\\n問題：…`)."""
    return _NEW_QUESTION.split(text.translate(_FULL_WIDTH), maxsplit=1)[0]


def canonical_number(text: str) -> str | None:
    """A number's one spelling: no thousands separators, no trailing zeros ("1,600.00" -> "1600"); None if it is
    not a number."""
    try:
        value = Decimal(text.replace(",", "").translate(_FULL_WIDTH))
    except InvalidOperation:
        return None
    return format(value.normalize(), "f") if value != value.to_integral_value() else str(int(value))


def chinese_number(text: str) -> int:
    """The value of a numeral written in Chinese characters: 十 10, 十六 16, 三百四十八 348, 一萬二千 12000."""
    total, section, digit = 0, 0, None
    for char in text:
        if char in _DIGITS:
            digit = _DIGITS[char]
        elif char in _UNITS:
            section += (1 if digit is None else digit) * _UNITS[char]  # 十六: a bare unit counts one
            digit = None
        else:  # 萬
            total += (section + (digit or 0)) * 10000
            section, digit = 0, None
    return total + section + (digit or 0)


def extract_number(text: str, question: str = "") -> str | None:
    """The final numeric answer of a worked solution, canonical (see `canonical_number`); None when there is none.
    What follows a question the model writes itself counts only when nothing before it answers (a model may restate
    the question first)."""
    found = _number_in(answer_part(text), question)
    return found if found is not None else _number_in(text.translate(_FULL_WIDTH), question)


def _number_in(text: str, question: str) -> str | None:
    marked = _MARKED.findall(text)
    if marked:
        return canonical_number(marked[-1])
    given = {canonical_number(n) for n in _NUMBER_RE.findall(question.translate(_FULL_WIDTH))}
    for line in reversed(text.splitlines()):
        numbers = [canonical_number(n) for n in _NUMBER_RE.findall(line)]
        if numbers:
            fresh = [n for n in numbers if n not in given]
            return (fresh or numbers)[-1]
        marker = _MARKER_RE.search(line)
        spelled = _SPELLED.findall(line[marker.end():]) if marker else []
        if spelled:
            return str(chinese_number(spelled[-1]))
    return None


def gold_number(solution: str) -> str | None:
    """The reference answer of a Yue-GSM8K solution (the number after its `####`)."""
    return canonical_number(solution.rsplit("####", 1)[-1].strip())


def extract_choice(text: str, options: Sequence[tuple[str, str]] = ()) -> str | None:
    """The option letter a free-text answer picks; None when it picks none. `options` are (letter, text) pairs, used
    for the last resort of an answer that quotes exactly one option's text without its letter. As for numbers, what
    follows a question the model writes itself counts only when nothing before it answers."""
    found = _choice_in(answer_part(text), options)
    return found if found is not None else _choice_in(text.translate(_FULL_WIDTH), options)


def _choice_in(text: str, options: Sequence[tuple[str, str]]) -> str | None:
    lead = _LEAD.search(text)
    if lead:
        return lead.group(1)
    for pattern in (_ANSWER_PHRASE, _CHOICE_PHRASE):
        found = pattern.search(text)
        if found:
            return found.group(1)
    # An option restated on its own line ("…will:\n\nB. consume its fuel…") names the answer; several such lines are
    # a walk through all the options.
    starts = set(_LINE_START.findall(text))
    if len(starts) == 1:
        return starts.pop()
    bracketed = _BRACKETED.search(text)
    if bracketed:
        return bracketed.group(1)
    quoted = [letter for letter, option in options if option and option.strip("。. ") and option.strip("。. ") in text]
    return quoted[0] if len(quoted) == 1 else None


def simplified_char_share(text: str) -> float:
    """The share of the text's Han characters that only Simplified writing uses (OpenCC s2t changes them, t2s leaves
    them: 们, 这, 说); 0.0 for a text without Han characters. The pack's reward (cantonese/rewards.py) holds the one
    implementation, so training and evaluation measure the same thing."""
    from canto_nemo.cantonese.rewards import simplified_char_share as share

    return share(text)


def dialect_reward_mean(texts: Sequence[str]) -> float:
    """The mean of the pack's training reward (`canto_nemo.cantonese.rewards.dialect_reward`, no task score) over
    the texts: the fidelity metric the DPO and GRPO recipes optimise."""
    from canto_nemo.cantonese.rewards import dialect_reward

    rewards = dialect_reward(list(texts))
    return sum(rewards) / len(rewards) if rewards else 0.0


def dialect_labels(texts: Sequence[str]) -> list[str]:
    """The project's dialect judge's label per text: cantonese, mixed, neutral, written_chinese or other."""
    from canto_nemo.cantonese import detect_dialect_batch

    return [result.label for result in detect_dialect_batch(list(texts))]

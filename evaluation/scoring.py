"""Answer extraction and dialect fidelity for Yue-Benchmark, as pure functions (no lm-eval import).

The lm-eval tasks (tasks/utils.py) and the re-scoring of published outputs (rescore.py) both call these, so a model's
answers are judged by one rule wherever they come from. Extraction is two ordered lists of rules, below, tried in
order: the first rule that reads an answer gives it, and its name is kept (`Extracted.rule`), so a report can say
how answers were read. When no rule reads one the answer is unparseable (`Extracted.answer is None`): scored wrong,
and counted apart, so "wrong" and "unreadable" are told apart.

Every rule reads the response up to where the model starts writing a question of its own (`answer_part`: base models
continue the prompt's pattern); what follows counts only when nothing before it answers. Full-width letters, digits
and punctuation read as ASCII everywhere.

Multiple choice (`read_choice`; the option letters are the item's, A-D when not given; markdown `**`, `__`, `` ` ``
and heading marks are ignored):

1. `leading letter`: the response starts with the letter ("C", "C. 行星…", "(B)", "**D** 因為…").
2. `answer statement`: the last "answer is X" in English, Cantonese or Mandarin ("The correct answer is C",
   "the answer would be option (B)", "答案係 (B)", "正確答案應該係C", "答案：D", "答：A").
3. `choice statement`: the last "I pick X" ("我揀 D", "我會選C", "選擇 B", "I choose (A)", "option C").
4. `option on its own line`: exactly one option restated at the start of a line ("…will:\n\nB. consume its fuel").
5. `bracketed letter`: exactly one letter written in brackets ("我覺得係(C)").
6. `option text`: the response quotes the text of exactly one option, without its letter (or of one option whose
   text holds every other option found in it); a text that the question itself holds does not count.
7. `final letter`: the last line that names a letter names exactly one ("…所以係 C。", "→ B" after the reasoning).

GSM8K (`read_number`; numbers with thousands separators, decimals, a minus sign where it is not subtraction, and
full-width digits; a number written in Chinese numerals where a rule says so):

1. `####`: the last `####` followed by a terse answer: a number or a Chinese numeral, at most a short unit and
   punctuation, the end of the line ("####18", "#### $1,450", "#### 132湯匙", "#### 十個"), on its line or alone on
   the next. A `####` followed by a sentence is not read here (the final sentence rule reads the response).
2. `boxed`: the number in the last `\boxed{…}` (LaTeX, as maths-tuned models write).
3. `answer statement`: the last "答案係 / 答案: / 答: / 最終答案 / (final) answer is / answer:" followed by a terse
   answer, as for `####` ("答案係 42 蚊。", "The answer is 18.", "答案：\n**42**", "答案係十二個").
4. `bold number`: the last bold number, with at most a short unit ("**42**", "= **$18**", "**42 蚊**").
5. `final sentence`: the last line holding a number; within it, the last number the question did not give
   ("所以佢每日賺 42 蚊。"; "佢要 23 磅先整到 4 張狗床" reads 23).
6. `final sentence in Chinese numerals`: in a response without any digit, the last numeral of two or more characters
   or other than a lone 一 in the last line holding one ("佢總共有十二個").

Fidelity: the dialect judge's label per response, the share of Simplified-only characters among its Han characters,
and the mean of the pack's alignment reward (`dialect_reward_mean`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

UNPARSEABLE = "unparseable"

# Models answer in full-width forms as often as in ASCII; one translation makes every rule below see ASCII.
_FULL_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

# A hyphen after a digit, a Latin letter or a bracket is subtraction (16-3-4=9, x-5), not a sign.
_NUMBER = r"(?:(?<![0-9A-Za-z)\]])-)?\d+(?:,\d{3})*(?:\.\d+)?"
_NUMBER_RE = re.compile(_NUMBER)
_SPELLED = re.compile(r"[零〇一二兩两三四五六七八九十百千萬万]+")
_NEW_QUESTION = re.compile(r"\n\s*(?:問題|问题|Question)\s*:")

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "兩": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
           "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}


class Extracted(NamedTuple):
    """What a response answers (an option letter, or a canonical number), and the name of the rule that read it;
    (None, "unparseable") when no rule reads one."""

    answer: str | None
    rule: str


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


def gold_number(solution: str) -> str | None:
    """The reference answer of a Yue-GSM8K solution (the number after its `####`)."""
    return canonical_number(solution.rsplit("####", 1)[-1].strip())


def _first_answer(rules: Sequence[tuple[str, Callable[..., str | None]]], text: str, *args) -> Extracted:
    """The first rule's answer on the response before a question the model writes itself, else on all of it."""
    for part in (answer_part(text), text.translate(_FULL_WIDTH)):
        for name, rule in rules:
            found = rule(part, *args)
            if found is not None:
                return Extracted(found, name)
    return Extracted(None, UNPARSEABLE)


# ------------------------------------------------------------------------------------------------- GSM8K


def _given(question: str) -> set[str | None]:
    return {canonical_number(n) for n in _NUMBER_RE.findall(question.translate(_FULL_WIDTH))}


def _number_on(line: str, given: set[str | None]) -> str | None:
    """The answer a line states: its one number, else its last number not among the question's."""
    numbers = [canonical_number(n) for n in _NUMBER_RE.findall(line.replace("*", ""))]
    if not numbers:
        return None
    fresh = [n for n in numbers if n not in given]
    return (fresh or numbers)[-1]


def _after_marker(marker: re.Pattern) -> Callable[[str, set], str | None]:
    def rule(text: str, given: set) -> str | None:
        for found in reversed(list(marker.finditer(text))):
            line, _, after = text[found.end():].partition("\n")
            if not line.strip(" \t*:$"):  # "答案：\n**42**": the answer on the next line
                line = next((x for x in after.splitlines() if x.strip()), "")
            terse = _TERSE.match(line.replace("*", ""))
            if terse:
                number, spelled = terse.groups()
                return canonical_number(number) if number else str(chinese_number(spelled))
        return None
    return rule


_HASHES = re.compile(r"####")
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_ANSWER_MARKER = re.compile(r"(?:(?:最終答案|最终答案|答案)[ \t]*(?:應該|应该|就)?[ \t]*(?:係|是|為|为)?|答[ \t]*:|"
                            r"(?i:final answer|the answer|answer)"
                            r"(?:[ \t]+(?:is|would be|will be|should be|=))?[ \t]*:?)")
# A stated answer is terse: the number (or a Chinese numeral), at most a short unit and punctuation, the end of the
# line. A marker followed by a sentence ("#### 佢要俾42蚊，因為…", "答案：首先…") is not read: such a sentence restates
# the question's quantities or opens the working, and the final sentence of the response says what it concluded.
_TERSE = re.compile(r"[ \t:$]*(?:(" + _NUMBER + r")|([零〇一二兩两三四五六七八九十百千萬万]+))[^\d\n]{0,6}$")
_BOLD_NUMBER = re.compile(r"\*\*[ \t]*\$?[ \t]*(" + _NUMBER + r")[ \t]*[^\d*\n]{0,4}\*\*")


def _boxed(text: str, given: set) -> str | None:
    found = _BOXED.findall(text)
    return _number_on(found[-1], given) if found else None


def _bold_number(text: str, given: set) -> str | None:
    found = _BOLD_NUMBER.findall(text)
    return canonical_number(found[-1]) if found else None


def _final_sentence(text: str, given: set) -> str | None:
    for line in reversed(text.splitlines()):
        found = _number_on(line, given)
        if found is not None:
            return found
    return None


def _final_spelled(text: str, given: set) -> str | None:
    if re.search(r"\d", text):
        return None
    for line in reversed(text.splitlines()):
        runs = [r for r in _SPELLED.findall(line) if r != "一"]
        if runs:
            return str(chinese_number(runs[-1]))
    return None


NUMBER_RULES: tuple[tuple[str, Callable[[str, set], str | None]], ...] = (
    ("####", _after_marker(_HASHES)),
    ("boxed", _boxed),
    ("answer statement", _after_marker(_ANSWER_MARKER)),
    ("bold number", _bold_number),
    ("final sentence", _final_sentence),
    ("final sentence in Chinese numerals", _final_spelled),
)


def read_number(text: str, question: str = "") -> Extracted:
    """The final numeric answer of a worked solution, canonical (see `canonical_number`), and the rule that read it
    (NUMBER_RULES, in order; the module docstring describes each)."""
    return _first_answer(NUMBER_RULES, text, _given(question))


def extract_number(text: str, question: str = "") -> str | None:
    """`read_number`'s answer alone; None when the response is unparseable."""
    return read_number(text, question).answer


# ------------------------------------------------------------------------------------------------- multiple choice


_MARKDOWN = re.compile(r"\*\*|__|`|^[ \t]*#{1,6}[ \t]+", re.M)
_LINK = (r"(?:[ \t]*(?:應該|应该|應|应|就|都|會|会|係|是|為|为|揀|選|选|選項|选项|:|=|"
         r"(?i:would|should|must|will|is|be|option|choice|letter))[ \t]*)*")


def _letter(letters: str) -> str:
    return f"([{letters}])(?![A-Za-z])"


def _patterns(letters: str) -> dict[str, re.Pattern]:
    letter = _letter(letters)
    return {
        "lead": re.compile(rf"^\s*[(\[]?{letter}(?:\s*$|\s*[.:、)\]\n。，,]|\s+(?=[^\x00-\x7f]))"),
        "answer": re.compile(r"(?:答案|回答|回應|回应|答[ \t]*:|(?i:answer|response))" + _LINK + r"[ \t]*[(\[]?[ \t]*"
                             + letter),
        "choice": re.compile(r"(?:選項|选项|選擇|选择|揀選|選|选|揀|拣|(?i:option|choice|choose|pick|select))" + _LINK
                             + r"[ \t]*[(\[]?[ \t]*" + letter),
        "line": re.compile(rf"^[ \t]*[(\[]?{letter}[.:、)\]]", re.M),
        "bracketed": re.compile(rf"[(\[]([{letters}])[)\]]"),
        "standalone": re.compile(rf"(?<![A-Za-z]){letter}"),
    }


_PATTERNS: dict[str, dict[str, re.Pattern]] = {}


def _compiled(letters: str) -> dict[str, re.Pattern]:
    if letters not in _PATTERNS:
        _PATTERNS[letters] = _patterns(letters)
    return _PATTERNS[letters]


def _last(name: str) -> Callable[[str, str, Sequence], str | None]:
    def rule(text: str, letters: str, options: Sequence) -> str | None:
        found = _compiled(letters)[name].findall(text)
        return found[-1] if found else None
    return rule


def _leading_letter(text: str, letters: str, options: Sequence) -> str | None:
    found = _compiled(letters)["lead"].search(text)
    return found.group(1) if found else None


def _one_of(name: str) -> Callable[[str, str, Sequence], str | None]:
    def rule(text: str, letters: str, options: Sequence) -> str | None:
        found = set(_compiled(letters)[name].findall(text))
        return found.pop() if len(found) == 1 else None
    return rule


def _option_text(text: str, letters: str, options: Sequence[tuple[str, str]]) -> str | None:
    quoted = {letter: core for letter, option in options if (core := option.strip("。.． ")) and core in text}
    if len(quoted) == 1:
        return next(iter(quoted))
    widest = [letter for letter, core in quoted.items() if all(other in core for other in quoted.values())]
    return widest[0] if len(widest) == 1 else None


def _final_letter(text: str, letters: str, options: Sequence) -> str | None:
    standalone = _compiled(letters)["standalone"]
    for line in reversed(text.splitlines()):
        found = set(standalone.findall(line))
        if found:
            return found.pop() if len(found) == 1 else None
    return None


CHOICE_RULES: tuple[tuple[str, Callable[[str, str, Sequence[tuple[str, str]]], str | None]], ...] = (
    ("leading letter", _leading_letter),
    ("answer statement", _last("answer")),
    ("choice statement", _last("choice")),
    ("option on its own line", _one_of("line")),
    ("bracketed letter", _one_of("bracketed")),
    ("option text", _option_text),
    ("final letter", _final_letter),
)


def read_choice(text: str, options: Sequence[tuple[str, str]] = (), question: str = "") -> Extracted:
    """The option letter a free-text answer picks, and the rule that read it (CHOICE_RULES, in order; the module
    docstring describes each). `options` are the item's (letter, text) pairs: their letters are the ones read, and
    their texts are what the `option text` rule looks for, except a text the question itself holds (an answer that
    restates the question quotes it without picking it)."""
    letters = "".join(letter for letter, _ in options) or "ABCD"
    asked = question.translate(_FULL_WIDTH)
    texts = [(letter, option.translate(_FULL_WIDTH)) for letter, option in options
             if option and option.translate(_FULL_WIDTH).strip("。.． ") not in asked]
    plain = _MARKDOWN.sub("", text)
    return _first_answer(CHOICE_RULES, plain, letters, texts)


def extract_choice(text: str, options: Sequence[tuple[str, str]] = (), question: str = "") -> str | None:
    """`read_choice`'s letter alone; None when the response is unparseable."""
    return read_choice(text, options, question).answer


def simplified_char_share(text: str, pack: str = "cantonese") -> float:
    """The pack's off-script share of the text (for Cantonese: the share of its Han characters that only Simplified
    writing uses, 们, 这, 说; 0.0 without Han characters). The pack holds the one implementation, so training, the
    server and the evaluation measure the same thing."""
    from canto_nemo.curator_stages.language_pack import get_pack

    return get_pack(pack).off_script_share(text)


def dialect_reward_mean(texts: Sequence[str], pack: str = "cantonese") -> float:
    """The mean of the pack's training reward (`LanguagePack.reward`, no task score) over the texts: the fidelity
    metric the DPO and GRPO recipes optimise."""
    from canto_nemo.curator_stages.language_pack import get_pack

    rewards = get_pack(pack).reward(list(texts))
    return sum(rewards) / len(rewards) if rewards else 0.0


def dialect_labels(texts: Sequence[str], pack: str = "cantonese") -> list[str]:
    """The pack's dialect judge's label per text (for Cantonese: cantonese, mixed, neutral, written_chinese, other)."""
    from canto_nemo.curator_stages.language_pack import detect

    return [result.label for result in detect(pack, texts)]


def fidelity(responses: Sequence[str], pack: str = "cantonese", examples_per_label: int = 0) -> dict:
    """How far answers are in the pack's target variety: the share per dialect label, the share with the target
    label (`cantonese_share`, named so in every results file), the mean off-script share (`simplified_char_share`),
    the mean reward (`dialect_reward`, what `canto-nemo align` optimises) and, with examples_per_label, the first
    few answers of each label (`examples`, 300 characters each)."""
    from canto_nemo.curator_stages.language_pack import get_pack

    labels = dialect_labels(responses, pack)
    n = max(1, len(labels))
    measured = {"labels": {label: count / n for label, count in Counter(labels).most_common()},
                "cantonese_share": labels.count(get_pack(pack).target_label) / n,
                "simplified_char_share": sum(simplified_char_share(r, pack) for r in responses) / n,
                "dialect_reward": dialect_reward_mean(responses, pack)}
    if examples_per_label:
        examples: dict[str, list[str]] = {}
        for label, response in zip(labels, responses, strict=True):
            if len(examples.setdefault(label, [])) < examples_per_label:
                examples[label].append(response[:300])
        measured["examples"] = examples
    return measured

"""Hong Kong personal data patterns: HKID numbers, +852 and 8-digit phone numbers, emails, card numbers, IPs."""

from __future__ import annotations

import re

from canto_nemo.curator_stages.language_pack import PiiPattern

# Boundaries are written out because \w and \b count Han characters as word characters.
_NOT_ALNUM_BEFORE = r"(?<![0-9A-Za-z])"
_NOT_ALNUM_AFTER = r"(?![0-9A-Za-z])"


def hkid_is_valid(candidate: str) -> bool:
    """Checks the HKID check digit: letters count A=10..Z=35 (a missing second letter 36), weights 9..2, mod 11."""
    core = re.sub(r"[\s()（）]", "", candidate).upper()
    letters, digits, check = core[:-7], core[-7:-1], core[-1]
    if not (1 <= len(letters) <= 2 and letters.isalpha() and digits.isdigit()):
        return False
    values = [36] * (2 - len(letters)) + [ord(c) - 55 for c in letters] + [int(d) for d in digits]
    total = sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True))
    expected = (11 - total % 11) % 11
    return check == ("A" if expected == 10 else str(expected))


def hkid_is_redacted(candidate: str) -> bool:
    """The written form, check digit in brackets (A123456(7)), is an HKID whatever its check digit says: a typo is
    still someone's ID. A bare run of letters and digits (A1234567) is one only when its check digit is right."""
    return bool(re.search(r"[(（][0-9A][)）]$", candidate.strip())) or hkid_is_valid(candidate)


def luhn_is_valid(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _range_end(half: str) -> bool:
    """A year (2016), a time of day (2130) or a round number (3000): one end of a range such as 2016-2019."""
    return bool(re.fullmatch(r"(19|20)\d\d|([01]\d|2[0-3])[0-5]\d|\d\d00", half))


def _is_a_phone(candidate: str) -> bool:
    """An undelimited 8-digit number like 20191231 is a date far more often than a phone number, and two 4-digit
    numbers joined by a dash whose ends are years, times or round numbers (2016-2019, 2130-2230, 3000-5000) are a
    range. (A phone number written 2130-2230 is lost that way: ranges are far more common in forum text.)"""
    digits = re.sub(r"\D", "", candidate)
    if len(digits) != 8 or candidate.strip().startswith(("+", "852", "00")):
        return True
    halves = re.fullmatch(r"(\d{4})\s?[-~]\s?(\d{4})", candidate.strip())
    if halves and all(_range_end(h) for h in halves.groups()):
        return False
    return not re.fullmatch(r"(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])", digits)


PATTERNS: tuple[PiiPattern, ...] = (
    PiiPattern("EMAIL", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
               hint=re.compile("@")),
    PiiPattern(
        "HKID",
        re.compile(_NOT_ALNUM_BEFORE + r"[A-Z]{1,2}\d{6}\s?(?:[(（][0-9A][)）]|[0-9A])" + _NOT_ALNUM_AFTER),
        hkid_is_redacted,
        re.compile(r"[A-Z]\d{6}"),
    ),
    PiiPattern(
        "CARD", re.compile(_NOT_ALNUM_BEFORE + r"\d(?:[ -]?\d){12,18}" + _NOT_ALNUM_AFTER), luhn_is_valid,
        re.compile(r"\d(?:[ -]?\d){12}"),
    ),
    PiiPattern(
        "PHONE",
        re.compile(
            # not a piece of a longer digit group such as a card number
            r"(?<![0-9A-Za-z+])(?<!\d[\s-])(?:(?:\+|00)?852[\s-]?)?[2-9]\d{3}[\s-]?\d{4}(?![0-9A-Za-z]|[\s-]\d)"
        ),
        _is_a_phone,
        re.compile(r"[2-9]\d{3}[\s-]?\d{4}"),
    ),
    PiiPattern(
        "IP",
        re.compile(r"(?<![0-9A-Za-z.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)"
                      r"(?![0-9]|\.\d)"),
        hint=re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d"),
    ),
)

"""PII redaction on a seeded set built from real posts: recall per kind, precision against look-alikes.

Each real LIHKG post (../shared/data/lihkg, test and valid), normalised and cleaned as the pipeline has it when PII
is redacted, gets one planted item at a random place (not inside a word or number of the post), with the spacing
people write: personal data that the redactor must replace (HKIDs in the written form with a right or a wrong check
digit, and bare; Hong Kong phones in several spellings; emails; card numbers that pass Luhn; IPv4), or a look-alike
that it must leave (dates, prices, 8-digit numbers no phone starts with, bare HKID-shaped strings with a wrong check
digit, card-like numbers failing Luhn, version strings, ranges of years, hours or prices). What the redactor finds
in the posts themselves is listed too, for a person to read.

    .venv/bin/python benchmarks/pii.py [--seed 0] [--copies 2]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import string
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LIHKG = REPO.parent / "shared" / "data" / "lihkg"
PLACEHOLDER = re.compile(r"<([A-Z]+)>")


def posts() -> list[str]:
    csv.field_size_limit(sys.maxsize)
    found = []
    for name in ("test.tsv", "valid.tsv"):
        with (LIHKG / name).open(encoding="utf-8") as f:
            found += [row["text_a"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    return found


def hkid(rng: random.Random, right: bool = True) -> tuple[str, str, str]:
    """(letters, six digits, check digit), the check digit right or wrong."""
    letters = rng.choice(string.ascii_uppercase) if rng.random() < 0.9 else "".join(rng.choices("ABCWXZ", k=2))
    digits = "".join(rng.choices(string.digits, k=6))
    values = [36] * (2 - len(letters)) + [ord(c) - 55 for c in letters] + [int(d) for d in digits]
    expected = (11 - sum(v * w for v, w in zip(values, range(9, 1, -1), strict=True)) % 11) % 11
    check = "A" if expected == 10 else str(expected)
    if not right:
        check = rng.choice([c for c in "0123456789A" if c != check])
    return letters, digits, check


def luhn_digits(rng: random.Random, valid: bool) -> str:
    body = [4] + [rng.randrange(10) for _ in range(14)]
    total = sum((d * 2 - 9 if d > 4 else d * 2) if i % 2 == 0 else d for i, d in enumerate(reversed(body)))
    check = (10 - total % 10) % 10
    if not valid:
        check = (check + rng.randrange(1, 10)) % 10
    number = "".join(map(str, body)) + str(check)
    return " ".join(number[i : i + 4] for i in range(0, 16, 4))


def phone(rng: random.Random) -> str:
    number = str(rng.choice([2, 3, 5, 6, 9])) + "".join(rng.choices(string.digits, k=7))
    return rng.choice([f"+852 {number[:4]} {number[4:]}", number, f"852-{number[:4]}-{number[4:]}",
                       f"{number[:4]} {number[4:]}", f"+852{number}"])


def positives(rng: random.Random) -> list[tuple[str, str, str]]:
    """(kind, label, text) of personal data to plant."""
    letters, digits, check = hkid(rng, right=True)
    w_letters, w_digits, w_check = hkid(rng, right=False)
    user = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(4, 9)))
    return [
        ("HKID", "HKID written A123456(3)", f"{letters}{digits}({check})"),
        ("HKID", "HKID written, check digit mistyped", f"{w_letters}{w_digits}({w_check})"),
        ("HKID", "HKID bare A1234563", f"{letters}{digits}{check}"),
        ("PHONE", "PHONE", phone(rng)),
        ("EMAIL", "EMAIL", f"{user}.{rng.randint(1, 99)}@{rng.choice(['gmail.com', 'yahoo.com.hk', 'hkbn.net'])}"),
        ("CARD", "CARD (Luhn)", luhn_digits(rng, valid=True)),
        ("IP", "IP", ".".join(str(rng.randint(1, 254)) for _ in range(4))),
    ]


def look_alikes(rng: random.Random) -> list[tuple[str, str]]:
    """(kind it could be mistaken for, text) of things that are not personal data."""
    letters, digits, check = hkid(rng, right=False)
    return [
        ("PHONE", f"20{rng.randint(10, 26)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"),  # a date
        ("PHONE", f"1{rng.randint(1000000, 9999999)}"),  # an 8-digit number no HK phone starts with
        ("PHONE", f"${rng.randint(1, 99)},{rng.randint(100, 999)},{rng.randint(100, 999)}"),  # a price
        ("PHONE", f"{rng.randint(2, 9)}{rng.randint(0, 9)}00-{rng.randint(2, 9)}{rng.randint(0, 9)}00"),  # a range
        ("PHONE", f"{rng.randint(18, 21)}{rng.randint(0, 5)}0-{rng.randint(21, 23)}{rng.randint(0, 5)}0"),  # hours
        ("PHONE", f"20{rng.randint(10, 19)}-20{rng.randint(20, 26)}"),  # years
        ("HKID", f"{letters}{digits}{check}"),  # HKID-shaped, bare, wrong check digit
        ("CARD", luhn_digits(rng, valid=False)),
        ("IP", f"v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}"),
    ]


def plant(post: str, item: str, rng: random.Random) -> str:
    """The item at a random place between two characters that are not ASCII letters or digits: inside a number of
    the post it would make one longer number, which no reader would call a phone or a card."""
    alnum = re.compile(r"[0-9A-Za-z]")
    places = [i for i in range(len(post) + 1)
              if not (i > 0 and alnum.match(post[i - 1])) and not (i < len(post) and alnum.match(post[i]))]
    at = rng.choice(places or [0])
    return f"{post[:at]} {item} {post[at:]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--copies", type=int, default=2, help="items planted per post and kind of item")
    args = parser.parse_args()

    from canto_nemo.cantonese import PACK, CantoneseNormalizer
    from canto_nemo.curator_stages.clean import DictionaryAwareCleaner
    from canto_nemo.curator_stages.pii import PiiRedactor

    # As the pipeline has them when PII is redacted: normalised and cleaned (URLs, markup gone).
    normalize, clean, redactor = CantoneseNormalizer(), DictionaryAwareCleaner(PACK), PiiRedactor(PACK)
    texts = [clean.modify_document(normalize.modify_document(p)) for p in posts()]
    rng = random.Random(args.seed)

    in_posts: Counter = Counter()
    examples: dict[str, list[str]] = {}
    for text in texts:
        for pattern in redactor.patterns:  # what the redactor replaces, with the text around it
            for match in pattern.pattern.finditer(text):
                if pattern.validate and not pattern.validate(match.group()):
                    continue
                in_posts[pattern.kind] += 1
                if len(examples.setdefault(pattern.kind, [])) < 8:
                    context = text[max(0, match.start() - 8) : match.end() + 8].replace("\n", " ")
                    examples[pattern.kind].append(f"{match.group()!r} in {context!r}")

    planted: Counter = Counter()
    found: Counter = Counter()
    missed: dict[str, list[str]] = {}
    kept: Counter = Counter()
    tried: Counter = Counter()
    wrongly: dict[str, list[str]] = {}
    started = time.perf_counter()
    for text in texts:
        base = Counter(PLACEHOLDER.findall(redactor.modify_document(text)))
        for _ in range(args.copies):
            for kind, label, item in positives(rng):
                out = redactor.modify_document(plant(text, item, rng))
                planted[label] += 1
                if item not in out and Counter(PLACEHOLDER.findall(out))[kind] > base[kind]:
                    found[label] += 1
                elif len(missed.setdefault(label, [])) < 3:
                    missed[label].append(item)
            for kind, item in look_alikes(rng):
                out = redactor.modify_document(plant(text, item, rng))
                tried[kind] += 1
                if item in out:
                    kept[kind] += 1
                elif len(wrongly.setdefault(kind, [])) < 3:
                    wrongly[kind].append(item)
    seconds = time.perf_counter() - started

    print(f"\nPII redaction on {len(texts):,} real LIHKG posts, seed {args.seed}, {args.copies} plantings per post "
          f"and item ({seconds:.1f} s)\n")
    print("| planted | n | redacted | recall | missed, e.g. |")
    print("|---|---:|---:|---:|---|")
    for label in sorted(planted):
        print(f"| {label} | {planted[label]:,} | {found[label]:,} | {found[label] / planted[label]:.1%} | "
              f"{', '.join(missed.get(label, [])) or '-'} |")
    true_positive = sum(found.values())
    false_positive = sum(tried.values()) - sum(kept.values())
    print("\n| look-alike (could pass for) | n | left alone | wrongly redacted, e.g. |")
    print("|---|---:|---:|---|")
    for kind in sorted(tried):
        print(f"| {kind} | {tried[kind]:,} | {kept[kind]:,} | {', '.join(wrongly.get(kind, [])) or '-'} |")
    print(f"\nrecall {true_positive / sum(planted.values()):.2%} over {sum(planted.values()):,} planted items; "
          f"precision {true_positive / (true_positive + false_positive):.2%} against "
          f"{sum(tried.values()):,} look-alikes")
    print("\nMatched in the posts themselves, normalised and cleaned (real text: read the examples):")
    for kind, n in in_posts.most_common():
        print(f"\n  {kind}: {n}")
        for example in examples[kind]:
            print(f"    {example}")


if __name__ == "__main__":
    main()

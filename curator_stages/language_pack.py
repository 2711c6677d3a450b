"""The interface a language pack offers the stages, and lookup of packs by name.

Stages in this package know nothing about any one language: everything language-specific (script, lexicon,
variant conversion, PII patterns, dialect detection) comes from a pack. A second language is a second pack.
"""

from __future__ import annotations

import importlib
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points

import regex

# Packs that ship with the project, by the names users write in configs. Other packages add theirs through the
# entry point group below; a config can name only these, never an arbitrary module.
KNOWN_PACKS = {"cantonese": "cantonese:PACK", "yue": "cantonese:PACK"}
ENTRY_POINT_GROUP = "canto_nemo.language_packs"


@dataclass(frozen=True)
class DialectResult:
    """What a pack's dialect detector says about one text.

    label: "cantonese" | "written_chinese" | "mixed" | "other" (for the Cantonese pack; other packs name their own)
    score: probability that the text is in the pack's target variety
    share: fraction of the text's script characters that sit in target-variety sentences
    """

    label: str
    score: float
    share: float


@dataclass(frozen=True)
class PiiPattern:
    """One kind of personal data: a regex, an optional validator of the matched text, and the placeholder type."""

    kind: str
    pattern: re.Pattern
    validate: Callable[[str], bool] | None = None


class LanguagePack(ABC):
    """Language data and models the stages need. Heavy members load lazily, once per process."""

    name: str
    # Regex character class (without brackets) of the language's main script, e.g. r"\p{Han}".
    script_class: str
    # Regex for one romanised syllable (e.g. Jyutping "gong2"); romanisation in brackets is extraction debris.
    romanisation_syllable: str | None = None

    @abstractmethod
    def lexicon(self) -> frozenset[str]:
        """Every word of the pack's lexicon."""

    @abstractmethod
    def protected_chars(self) -> frozenset[str]:
        """Characters that cleaning must never remove, beyond the script class (may be empty)."""

    @abstractmethod
    def variant_converter(self, profile: str) -> Callable[[str], str]:
        """A function that maps variant characters to the pack's standard; profile "auto" lets the pack choose."""

    @abstractmethod
    def pii_patterns(self) -> Sequence[PiiPattern]:
        """Patterns of personal data to redact, most specific first."""

    @abstractmethod
    def detect_dialect_batch(self, texts: Sequence[str]) -> list[DialectResult]:
        """Dialect label and score for each text."""

    def mixed_script_words(self) -> frozenset[str]:
        """Lexicon words that mix the script with other characters (e.g. "IT狗"): cleaning must not split them."""
        script = regex.compile(rf"[{self.script_class}]")
        other = regex.compile(rf"[^{self.script_class}\s]")
        return frozenset(w for w in self.lexicon() if script.search(w) and other.search(w))


def get_pack(pack: LanguagePack | str) -> LanguagePack:
    """A pack object from itself or from a registered name ("cantonese", or an entry point's name)."""
    if isinstance(pack, LanguagePack):
        return pack
    registered = dict(KNOWN_PACKS)
    registered.update({ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)})
    if pack not in registered:
        msg = f"unknown language pack {pack!r}: registered packs are {sorted(registered)}"
        raise ValueError(msg)
    target = registered[pack]
    module_name, attribute = target.split(":", 1)
    obj = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(obj, LanguagePack):
        msg = f"{target} is a {type(obj).__name__}, not a LanguagePack"
        raise TypeError(msg)
    return obj

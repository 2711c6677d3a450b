"""The interface a language pack offers the stages, and lookup of packs by name.

Stages in this package know nothing about any one language: everything language-specific (script, punctuation,
lexicon, variant conversion, PII patterns, dialect labels and detection, packaged corpora) comes from a pack. A second
language is a second pack: a `LanguagePack` subclass registered under the `canto_nemo.language_packs` entry point.

What a pack module may import from this project: this module (the interface, `CjkPack` included) and
`canto_nemo.curator_stages.charclass`, nothing else; the stages never import a pack module, they take pack objects
or registered names.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import TypeVar

import regex

# Packs register by name through this entry point group (the project's own too, in pyproject.toml): a config names
# a registered pack, never a module.
ENTRY_POINT_GROUP = "canto_nemo.language_packs"

T = TypeVar("T")


@dataclass(frozen=True)
class DialectResult:
    """What a pack's dialect detector says about one text.

    label: one of the pack's `dialect_labels`
    score: probability that the text is in the pack's target variety
    share: fraction of the text's script characters that sit in target-variety sentences, None when no sentence
        carries evidence either way
    """

    label: str
    score: float
    share: float | None


@dataclass(frozen=True)
class PiiPattern:
    """One kind of personal data: a regex, an optional validator of the matched text, and the placeholder type."""

    kind: str
    pattern: re.Pattern
    validate: Callable[[str], bool] | None = None
    # Optional: a pattern found wherever `pattern` matches, cheaper to search (its digits without the lookarounds
    # around them); a text without it is not searched with `pattern`. Lookbehinds at the start of a pattern keep
    # `re` from skipping ahead to a possible first character: the hints made PII redaction about four times faster.
    hint: re.Pattern | None = None


class DialectDetector(ABC):
    """A pack's dialect detector: built once per worker (it may load a model), then called on batches."""

    @abstractmethod
    def detect_batch(self, texts: Sequence[str]) -> list[DialectResult]:
        """Label, score and share for each text."""


class LanguagePack(ABC):
    """Language data and models the stages need. Heavy members load lazily, once per process.

    The punctuation tables default to ASCII only: a pack for a script with its own punctuation (CJK) says so.
    """

    name: str
    # Regex character class (without brackets) of the language's main script, e.g. r"\\p{Han}".
    script_class: str
    # Regex for one romanised syllable (e.g. Jyutping "gong2"); romanisation in brackets is extraction debris.
    romanisation_syllable: str | None = None
    # ASCII punctuation written as the script's own after a script character, e.g. {",": "，"}.
    script_punctuation: Mapping[str, str] = MappingProxyType({})
    # Characters that only separate list items or clauses: a run of them is debris ("，，、").
    separators: str = ",;"
    # Opening and closing brackets; an empty pair is debris.
    open_brackets: str = "(["
    close_brackets: str = ")]"
    # Punctuation after which a space left by cleaning is dropped (the script sets no space before it).
    no_space_before: str = ""
    # Half-width forms that NFKC may widen (e.g. ｡｢｣､ for CJK): (first, last) code points, or None.
    halfwidth_punctuation: tuple[int, int] | None = None
    # Dialect labels: every label the detector gives, and the ones the default curation policy keeps.
    dialect_labels: tuple[str, ...] = ()
    default_keep_labels: tuple[str, ...] = ()
    # URI scheme of the corpora the pack can read from installed packages ("pycantonese:hkcancor"), if any.
    corpus_scheme: str | None = None
    # After curation: the label a model's answers should get (what the evaluation's fidelity metric counts and the
    # reward pays for) and the label of the standard written variety (the replay data, a preference pair's rejected
    # side). None: the pack has no variety to aim at.
    target_label: str | None = None
    standard_label: str | None = None

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
    def dialect_detector(self) -> DialectDetector:
        """The detector (heavy: call once per worker)."""

    def fold_variants(self, texts: list[str]) -> list[str]:
        """Texts with spelling variants folded onto one form, so that the same text in two spellings (Simplified and
        Traditional, say) is a duplicate. Default: unchanged."""
        return texts

    def corpora(self) -> Mapping[str, Callable[[], Iterator[tuple[str, str]]]]:
        """Packaged corpora by name: each a function yielding (local id, text). Default: none."""
        return {}

    def off_script_share(self, text: str) -> float:
        """The share of the text's script characters that the target variety does not write (for Cantonese:
        Simplified-only characters); reported by the evaluation and the server, penalised by a reward. Default: 0.0."""
        return 0.0

    def reward(self, completions: Sequence, **columns) -> list[float]:
        """One reward in [0, 1] per completion (strings or chat messages), in TRL's reward-function shape (other
        dataset columns come by name): the alignment runs optimise it and the evaluation reports its mean."""
        msg = f"language pack {self.name!r} defines no reward: implement LanguagePack.reward"
        raise NotImplementedError(msg)

    def instruction_data(self):
        """The module (or object) the instruction and preference generators take their prompts from: SYSTEM_PROMPT,
        lexicon_seeds, persona_seeds, vocabulary_seeds, document_seeds, answer_prompt, refusal_patterns,
        TO_WRITTEN_CHINESE and WrittenChineseConverter (see canto_nemo/cantonese/instruct.py)."""
        msg = f"language pack {self.name!r} has no instruction data: implement LanguagePack.instruction_data"
        raise NotImplementedError(msg)

    def mixed_script_words(self) -> frozenset[str]:
        """Lexicon words that mix the script with other characters (e.g. "IT狗"): cleaning must not split them."""
        script = regex.compile(rf"[{self.script_class}]")
        other = regex.compile(rf"[^{self.script_class}\s]")
        return frozenset(w for w in self.lexicon() if script.search(w) and other.search(w))


class CjkPack(LanguagePack):
    """What every pack for a language written in Han characters shares: the script and its punctuation."""

    script_class = r"\p{Han}"  # every Han character, CJK Extensions A-G included
    script_punctuation = MappingProxyType({",": "，", "!": "！", "?": "？", ";": "；", ":": "："})
    separators = "，、；,;"
    open_brackets = "(（[【"
    close_brackets = ")）]】"
    no_space_before = "，。！？：；、"
    halfwidth_punctuation = (0xFF61, 0xFF64)  # ｡｢｣､


@cache
def registered_packs() -> dict[str, object]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def get_pack(pack: LanguagePack | str) -> LanguagePack:
    """A pack object from itself or from a registered name ("cantonese", or another entry point's name)."""
    if isinstance(pack, LanguagePack):
        return pack
    registered = registered_packs()
    if pack not in registered:
        msg = f"unknown language pack {pack!r}: registered packs are {sorted(registered)}"
        raise ValueError(msg)
    obj = registered[pack].load()
    if not isinstance(obj, LanguagePack):
        msg = f"{registered[pack].value} is a {type(obj).__name__}, not a LanguagePack"
        raise TypeError(msg)
    return obj


_BUILT: dict[tuple, object] = {}


def built_once(pack: LanguagePack, what: str, build: Callable[[], T], *key: Hashable) -> T:
    """`build()` once per process for this pack, `what` and `key`, then the same object.

    For what a stage builds from its pack on the worker: Ray Data hands every task a fresh copy of its stage, so what a
    stage kept on itself was rebuilt for every task (the cleaner's guard, 0.075 s a task; decontamination's index of
    the evaluation sets, 0.7 s). A pack is known by its class and name (its copies are equal, not identical).
    """
    cache_key = (type(pack), pack.name, what, *key)
    if cache_key not in _BUILT:
        _BUILT[cache_key] = build()
    return _BUILT[cache_key]


def detect(pack: LanguagePack | str, texts: Sequence[str]) -> list[DialectResult]:
    """The pack's dialect detector on `texts`, the detector built once per process (for code after curation: the
    evaluation, the rewards, the server)."""
    obj = get_pack(pack)
    return built_once(obj, "dialect_detector", obj.dialect_detector).detect_batch(list(texts))


def corpus_reader(uri: str) -> Callable[[], Iterator[tuple[str, str]]] | None:
    """The reader of a packaged corpus named by `SCHEME:NAME`, from whichever registered pack owns the scheme; None
    when no pack owns it (then the URI is an ordinary path). Raises for an owned scheme with an unknown name."""
    scheme, sep, name = uri.partition(":")
    if not sep or len(scheme) < 2:  # a Windows drive letter is not a scheme
        return None
    for entry in sorted(registered_packs()):
        pack = get_pack(entry)
        if pack.corpus_scheme == scheme:
            corpora = pack.corpora()
            if name not in corpora:
                msg = f"unknown packaged corpus {uri!r}: use one of {[f'{scheme}:{c}' for c in corpora]}"
                raise ValueError(msg)
            return corpora[name]
    return None

"""Dictionary-aware cleaner: removes extraction debris without ever removing or splitting a word of the language.

Each rule proposes edits (a span and its replacement). One check guards every edit, whichever rule proposed it:
- the script characters (for Cantonese every Han character, CJK Extensions A-G included) and the pack's protected
  characters in the replacement are exactly those in the span, in order: no rule can delete one, and as every span
  is at least one character long, no edit can come between two characters that were adjacent, so no word of
  script characters is split;
- no lexicon word that mixes scripts ("IT狗", "阿Q") may overlap the span.
An edit that fails the check is not made; the text keeps the debris rather than lose a word.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from nemo_curator.stages.text.modifiers import DocumentModifier

from canto_nemo.curator_stages.charclass import ranges
from canto_nemo.curator_stages.language_pack import LanguagePack, built_once, get_pack

# Standard `re` throughout: the cleaner runs on every document, and `re` is several times faster than `regex`.
_URL = re.compile(r"(?:(?:https?|ftp)://|www\.)[!-~]+?(?=[.,;:!?)\]}'\"]*(?:[^!-~]|$))", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]{0,500})?/?>|<!--.*?-->", re.DOTALL)
_HTML_ENTITY = re.compile(r"&(?:[A-Za-z]{2,8}|#\d{2,7}|#x[0-9A-Fa-f]{2,6});")
_WIKI_TEMPLATE = re.compile(r"\{\{[^{}]*\}\}")
_WIKI_LINK = re.compile(r"\[\[(?:([^\[\]|]*)\|)?([^\[\]|]*)\]\]")
_COORDINATE = re.compile(
    r"(?<![0-9A-Za-z.])\d{1,3}(?:\.\d+)?°(?:\s*\d{1,2}(?:\.\d+)?[′'])?(?:\s*\d{1,2}(?:\.\d+)?[″\"])?\s*[NSEW]"
    r"(?:[\s,;]*\d{1,3}(?:\.\d+)?°(?:\s*\d{1,2}(?:\.\d+)?[′'])?(?:\s*\d{1,2}(?:\.\d+)?[″\"])?\s*[NSEW])?"
)
_ELLIPSIS = "…"
_WWW = re.compile(r"www\.", re.IGNORECASE)
_FOUR_SAME = re.compile(r"(.)\1{3}", re.DOTALL)


def _holds(*literals: str) -> Callable[[str], bool]:
    return lambda text: any(literal in text for literal in literals)

EMOJI_POLICIES = ("keep", "remove")


@cache
def _property_patterns() -> dict[str, re.Pattern]:
    """Patterns over Unicode properties, built on first use rather than at import (spelling them out takes ~0.2 s)."""
    pictograph = ranges(r"\p{Extended_Pictographic}\p{Regional_Indicator}")
    modifier = ranges(r"\p{Emoji_Modifier}")
    punctuation = ranges(r"\p{P}")
    return {
        "emoji": re.compile(f"[{pictograph}][{modifier}\ufe0f\u200d{pictograph}]*"),
        "punct_run": re.compile(f"([{punctuation}])\\1{{3,}}"),
        "punctuation": punctuation,
    }


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern
    replace: Callable[[re.Match], str]
    # True wherever `pattern` can match (what every match holds): a scan with a large character class costs more
    # than a search for what it needs (repeated punctuation was 40% of the cleaner's time on Wikipedia)
    hint: Callable[[str], bool] | None = None


class DictionaryAwareCleaner(DocumentModifier):
    """Curator DocumentModifier; use as `Modify(DictionaryAwareCleaner(pack="cantonese"))`.

    urls, html, wiki, coordinates, romanisation, repeated_punctuation: switch each debris rule on or off.
    emoji: "keep" or "remove".
    """

    def __init__(
        self,
        pack: LanguagePack | str,
        urls: bool = True,
        html_markup: bool = True,
        wiki: bool = True,
        coordinates: bool = True,
        romanisation: bool = True,
        repeated_punctuation: bool = True,
        emoji: str = "keep",
    ) -> None:
        super().__init__()
        if emoji not in EMOJI_POLICIES:
            msg = f"emoji must be one of {EMOJI_POLICIES}, not {emoji!r}"
            raise ValueError(msg)
        self.pack = get_pack(pack)
        self.switches = {
            "wiki": wiki, "html": html_markup, "urls": urls, "coordinates": coordinates,
            "romanisation": romanisation and self.pack.romanisation_syllable is not None,
            "emoji": emoji == "remove", "repeated_punctuation": repeated_punctuation,
        }
        self._script = re.compile(f"[{ranges(self.pack.script_class)}]")
        self.rules = self._rules()

    def _rules(self) -> list[Rule]:
        script = ranges(self.pack.script_class)
        unicode_patterns = _property_patterns()
        rules = {
            "wiki": [Rule("wiki_template", _WIKI_TEMPLATE, self._unwrap_template, _holds("{{")),
                     Rule("wiki_link", _WIKI_LINK, lambda m: m.group(2), _holds("[["))],
            "html": [Rule("html_tag", _HTML_TAG, lambda m: "", _holds("<")),
                     Rule("html_entity", _HTML_ENTITY, lambda m: html.unescape(m.group()), _holds("&"))],
            "urls": [Rule("url", _URL, lambda m: "", lambda text: "://" in text or bool(_WWW.search(text)))],
            "coordinates": [Rule("coordinate", _COORDINATE, lambda m: "", _holds("°"))],
            "emoji": [Rule("emoji", unicode_patterns["emoji"], lambda m: "")],
            "repeated_punctuation": [Rule("repeated_punctuation", unicode_patterns["punct_run"],
                                          lambda m: _ELLIPSIS * 2 if m.group(1) == _ELLIPSIS else m.group(1),
                                          lambda text: bool(_FOUR_SAME.search(text)))],
        }
        if self.switches["romanisation"]:
            syllable = self.pack.romanisation_syllable
            # A bracket holding only romanised syllables, e.g. （hoeng1 gong2）; a label before them stays.
            pattern = re.compile(rf"[(（]\s*{syllable}(?:[\s,，;；'-]+{syllable})*\s*[)）]")
            rules["romanisation"] = [Rule("romanisation", pattern, lambda m: "")]
        chosen = [rule for key, group in rules.items() if self.switches[key] for rule in group]
        # Leftovers of the rules above: empty brackets, doubled separators, spaces before the script's punctuation.
        pack = self.pack
        opening, closing, separators = (re.escape(x) for x in (pack.open_brackets, pack.close_brackets,
                                                                pack.separators))
        chosen += [
            Rule("empty_brackets", re.compile(f"[{opening}][{unicode_patterns['punctuation']}\\s]*?[{closing}]"),
                 lambda m: ""),
            Rule("separator_run", re.compile(f"([{separators}])(?:\\s*[{separators}])+"), lambda m: m.group(1)),
            Rule("space_run", re.compile(r"(?<=\S) {2,}(?=\S)"), lambda m: " ", _holds("  ")),
        ]
        if pack.no_space_before:
            chosen.append(Rule("space_before_script_punct",
                               re.compile(f"(?<=[{script}])\\s+(?=[{re.escape(pack.no_space_before)}])"),
                               lambda m: ""))
        return chosen

    def _unwrap_template(self, match: re.Match) -> str:
        """{{lang|en|Hong Kong}} goes; a template's parameters in the script stay ({{main|香港歷史}} -> 香港歷史)."""
        params = match.group()[2:-2].split("|")
        return "".join(p.strip() for p in params if self._script.search(p))

    def modify_document(self, text: str) -> str:
        guard = built_once(self.pack, "cleaner_guard", lambda: _Guard(self.pack))  # on the worker: the lexicon is large
        for rule in self.rules:
            if rule.hint is not None and not rule.hint(text):
                continue
            text = rule.pattern.sub(lambda m, rule=rule, text=text: guard.edit(text, m, rule.replace(m)), text)
        return text


class _Guard:
    """The one check every edit passes; see the module docstring."""

    def __init__(self, pack: LanguagePack) -> None:
        protected = "".join(sorted(pack.protected_chars()))
        self.protected = re.compile(f"[{ranges(pack.script_class)}{re.escape(protected)}]")
        self.mixed_words = pack.mixed_script_words()
        self.lengths = sorted({len(w) for w in self.mixed_words})
        # A word that crosses a span's edge holds the two characters on either side of that edge.
        self.bigrams = {w[i : i + 2] for w in self.mixed_words for i in range(len(w) - 1)}

    def edit(self, text: str, match: re.Match, replacement: str) -> str:
        start, end = match.span()
        span = match.group()
        if replacement == span:
            return span
        protected = self.protected.findall(span)
        if protected != self.protected.findall(replacement):
            return span
        if self._splits_mixed_word(text, start, end, span_has_script=bool(protected)):
            return span
        return replacement

    def _splits_mixed_word(self, text: str, start: int, end: int, span_has_script: bool) -> bool:
        # Every mixed word holds a script character, so without one in the span it can only cross an edge.
        crosses_edge = text[start - 1 : start + 1] in self.bigrams or text[end - 1 : end + 1] in self.bigrams
        if not (crosses_edge or span_has_script):
            return False
        for length in self.lengths:
            for i in range(max(0, start - length + 1), min(end, len(text) - length + 1)):
                if text[i : i + length] in self.mixed_words:
                    return True
        return False

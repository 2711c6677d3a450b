"""Unicode normaliser: NFKC where it is safe, width, whitespace, punctuation, variant characters.

Plain NFKC is wrong for scripts with punctuation of their own: for Chinese it folds full-width punctuation (，？！：)
to ASCII and the ellipsis (…) to three dots. This normaliser applies NFKC character by character but leaves
punctuation and symbols alone (except the pack's half-width punctuation, which it widens), then maps variant characters
with the pack's converter and writes ASCII punctuation after a script character as the pack's own.
Normalising twice gives the same text as normalising once.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from nemo_curator.stages.text.modifiers import DocumentModifier

from canto_nemo.curator_stages.charclass import ranges
from canto_nemo.curator_stages.language_pack import LanguagePack, get_pack

# Format characters worth keeping: joiners and variation selectors hold emoji and some Han variants together.
_KEEP_FORMAT = {"\u200c", "\u200d"}
_FULLWIDTH_ASCII = range(0xFF01, 0xFF5F)
_MOJIBAKE_HINT = re.compile(r"[\u00c0-\u00ff][\u0080-\u00bf\u2000-\u206f\u0152-\u0192]")
_NEWLINES = re.compile(r"\r\n?")
_SPACES = re.compile(r"[ \t]+")
_LINE_EDGES = re.compile(r" ?\n ?")
_BLANK_LINES = re.compile(r"\n{3,}")


@cache
def _fold_table(keep_fullwidth_punctuation: bool, halfwidth: tuple[int, int] | None) -> dict[int, str | None]:
    """str.translate table: per-character NFKC except punctuation and symbols; control characters removed."""
    table: dict[int, str | None] = {}
    for code in range(0x30000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        category = unicodedata.category(char)
        if char == "\n":
            continue
        if char == "\t":
            table[code] = " "
            continue
        if category == "Cc" and char != "\r":
            table[code] = ""
            continue
        if category == "Cf" and char not in _KEEP_FORMAT:
            table[code] = ""
            continue
        if category.startswith("Z"):
            table[code] = " " if category == "Zs" else "\n"
            continue
        folded = unicodedata.normalize("NFKC", char)
        if folded == char:
            continue
        if halfwidth is not None and halfwidth[0] <= code <= halfwidth[1]:
            table[code] = folded
        elif category[0] in "PS":
            if not keep_fullwidth_punctuation and code in _FULLWIDTH_ASCII:
                table[code] = folded
        elif category != "No":  # superscripts, circled and fraction numbers keep their meaning
            table[code] = folded
    return table


@cache
def _fold_hint(keep_fullwidth_punctuation: bool, halfwidth: tuple[int, int] | None) -> re.Pattern:
    """A character `_fold_table` changes, or any character outside the BMP: only a text holding one is translated (a
    few in a hundred Wikipedia articles; str.translate looks every character up in a dict). The astral plane is
    searched as one range because `re` compiles a class of BMP characters to a bitmap and a longer one to a list of
    ranges it walks at every position."""
    table = _fold_table(keep_fullwidth_punctuation, halfwidth)
    changed = "".join(re.escape(chr(c)) for c, out in sorted(table.items()) if out != chr(c) and c < 0x10000)
    return re.compile(f"[{changed}]|[\U00010000-\U0010FFFF]")


class Normalizer(DocumentModifier):
    """Curator DocumentModifier; use as `Modify(Normalizer(pack="cantonese"))`.

    variants: the pack's variant profile ("auto": the pack picks per text, e.g. s2hk for Simplified input and t2hk
        for Traditional in the Cantonese pack), an explicit profile name, or None to leave characters as they are.
    fix_mojibake: repair UTF-8 read as Latin-1 (æˆ‘å“‹ -> 我哋) with ftfy, only where such sequences occur.
    keep_fullwidth_punctuation: keep ，？！ etc. full-width (NFKC would make them ASCII).
    cjk_punctuation: write ASCII punctuation that follows a script character as the pack's own (`script_punctuation`:
        , ! ? ; : as ，！？；： for CJK packs).
    """

    def __init__(
        self,
        pack: LanguagePack | str,
        variants: str | None = "auto",
        fix_mojibake: bool = True,
        keep_fullwidth_punctuation: bool = True,
        cjk_punctuation: bool = True,
    ) -> None:
        super().__init__()
        self.pack = get_pack(pack)
        self.variants = variants
        self.fix_mojibake = fix_mojibake
        self.keep_fullwidth_punctuation = keep_fullwidth_punctuation
        self.cjk_punctuation = cjk_punctuation
        self._convert = None
        # A run of them after a script character is converted whole ("好?!" -> "好？！").
        marks = "".join(self.pack.script_punctuation)
        self._punctuation = str.maketrans(dict(self.pack.script_punctuation))
        self._after_script = (re.compile(rf"(?<=[{ranges(self.pack.script_class)}])[{re.escape(marks)}]+")
                              if marks else None)

    def modify_document(self, text: str) -> str:
        text = self._fold(text)
        # ftfy and folding can feed each other (a folded letter completes a mojibake pair): go to the fixpoint.
        for _ in range(3):
            if not (self.fix_mojibake and _MOJIBAKE_HINT.search(text)):
                break
            import ftfy

            fixed = self._fold(ftfy.fix_encoding(text))
            if fixed == text:
                break
            text = fixed
        text = _NEWLINES.sub("\n", text)
        text = _SPACES.sub(" ", text)
        text = _LINE_EDGES.sub("\n", text)
        text = _BLANK_LINES.sub("\n\n", text).strip()
        if self.variants:
            if self._convert is None:  # built on the worker, on first use: OpenCC objects do not pickle
                self._convert = self.pack.variant_converter(self.variants)
            text = self._convert(text)
        if self.cjk_punctuation and self._after_script is not None:
            text = self._after_script.sub(lambda m: m.group().translate(self._punctuation), text)
        return text

    def _fold(self, text: str) -> str:
        settings = (self.keep_fullwidth_punctuation, self.pack.halfwidth_punctuation)
        if _fold_hint(*settings).search(text):
            text = text.translate(_fold_table(*settings))
        return unicodedata.normalize("NFC", text)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_convert": None}

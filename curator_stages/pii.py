"""PII redaction with the pack's patterns: each match that passes its validator becomes a typed placeholder."""

from __future__ import annotations

from nemo_curator.stages.text.modifiers import DocumentModifier

from canto_nemo.curator_stages.language_pack import LanguagePack, get_pack


class PiiRedactor(DocumentModifier):
    """Curator DocumentModifier; use as `Modify(PiiRedactor(pack="cantonese"))`.

    kinds: which of the pack's kinds to redact (default all, e.g. EMAIL, HKID, CARD, PHONE, IP).
    placeholder: format of the replacement; "{kind}" is the kind's name.
    """

    def __init__(self, pack: LanguagePack | str, kinds: list[str] | None = None,
                 placeholder: str = "<{kind}>") -> None:
        super().__init__()
        self.pack = get_pack(pack)
        available = {p.kind: p for p in self.pack.pii_patterns()}
        unknown = set(kinds or []) - set(available)
        if unknown:
            msg = f"unknown PII kinds {sorted(unknown)}; the {self.pack.name} pack knows {sorted(available)}"
            raise ValueError(msg)
        self.patterns = [p for p in self.pack.pii_patterns() if kinds is None or p.kind in kinds]
        self.placeholder = placeholder

    def modify_document(self, text: str) -> str:
        for pii in self.patterns:
            if pii.hint is not None and not pii.hint.search(text):
                continue

            def replace(match, pii=pii):
                found = match.group()
                return found if pii.validate and not pii.validate(found) else self.placeholder.format(kind=pii.kind)

            text = pii.pattern.sub(replace, text)
        return text

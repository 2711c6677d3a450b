"""The Cantonese language pack: lexicon, dialect judge, OpenCC profile, Hong Kong PII patterns, corpus readers.

`PACK` is what the stages in curator_stages/ take (or the name "cantonese", registered as an entry point).
"""

from canto_nemo.cantonese.dialect import detect_dialect, detect_dialect_batch
from canto_nemo.cantonese.pack import CantonesePack
from canto_nemo.curator_stages.language_pack import DialectResult

PACK = CantonesePack()

__all__ = ["PACK", "CantoneseNormalizer", "CantonesePack", "DialectResult", "detect_dialect", "detect_dialect_batch"]


def __getattr__(name: str):
    # The normaliser is a NeMo Curator stage: importing it imports Curator (and Ray), which the judge alone never needs.
    if name == "CantoneseNormalizer":
        from canto_nemo.cantonese.stages import CantoneseNormalizer

        return CantoneseNormalizer
    raise AttributeError(f"module 'canto_nemo.cantonese' has no attribute {name!r}")

"""The Cantonese language pack: lexicon, dialect detector, OpenCC profile, Hong Kong PII patterns, corpus readers.

`PACK` is what the stages in curator_stages/ take (or the name "cantonese").
"""

from canto_nemo.cantonese.dialect import detect_dialect, detect_dialect_batch
from canto_nemo.cantonese.pack import CantonesePack
from canto_nemo.curator_stages.language_pack import DialectResult

PACK = CantonesePack()

from canto_nemo.cantonese.stages import CantoneseNormalizer  # noqa: E402  (after PACK: the stage looks the pack up by name)

__all__ = ["PACK", "CantoneseNormalizer", "CantonesePack", "DialectResult", "detect_dialect", "detect_dialect_batch"]

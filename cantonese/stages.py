"""The generic stages with the Cantonese pack filled in, under the names users look for."""

from canto_nemo.curator_stages.normalize import Normalizer


class CantoneseNormalizer(Normalizer):
    """`Normalizer(pack="cantonese")`: Hong Kong Traditional via OpenCC (s2hk for Simplified input, t2hk otherwise)."""

    def __init__(self, **options) -> None:
        super().__init__(pack="cantonese", **options)

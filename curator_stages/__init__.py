"""NeMo Curator stages for low-resource languages, language-agnostic: each takes a language pack.

Modifiers (use with Curator's `Modify`): Normalizer, DictionaryAwareCleaner, PiiRedactor.
Filters (use with `ScoreFilterWithRejects`, or Curator's `ScoreFilter`): CharLengthFilter, ScriptRatioFilter,
SymbolRatioFilter, RepeatedLinesFilter, RepeatedCharNGramFilter.
Stages: InputPartitioner + RecordReader (reading), DialectLabeler + DialectFilter (dialect: label, then Curator's
Filter on the labels), ExactHashStage / MinHashStage + DuplicateRemover (dedup).
Packs: LanguagePack and CjkPack (the interface a language pack implements), get_pack.
Workflow: CurationWorkflow runs them all, as a CurationConfig says, and accounts for every document; call
configure_ray first.
"""

import importlib

# Where each public name lives. Loaded on first use (PEP 562), so `import canto_nemo.curator_stages.ray_env` stays light
# and can run before anything imports Ray.
_EXPORTS = {
    "CharLengthFilter": "quality", "CjkPack": "language_pack", "CurationConfig": "curate_config",
    "CurationWorkflow": "workflow",
    "DialectFilter": "dialect", "DialectLabeler": "dialect", "DialectPolicy": "dialect",
    "DialectResult": "language_pack", "DictionaryAwareCleaner": "clean", "DuplicateRemover": "dedup",
    "ExactHashStage": "dedup", "ExplainsRejection": "rejects", "FilterWithRejects": "rejects",
    "InputPartitioner": "readers", "LanguagePack": "language_pack", "MinHashConfig": "minhash",
    "MinHashStage": "fuzzy_dedup", "Normalizer": "normalize", "PiiPattern": "language_pack", "PiiRedactor": "pii",
    "RecordReader": "readers", "RepeatedCharNGramFilter": "quality", "RepeatedLinesFilter": "quality",
    "ScoreFilterWithRejects": "rejects", "ScriptRatioFilter": "quality", "SymbolRatioFilter": "quality",
    "configure_ray": "ray_env", "find_exact_duplicates": "dedup", "find_fuzzy_duplicates": "fuzzy_dedup",
    "get_pack": "language_pack",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'curator_stages' has no attribute {name!r}")
    return getattr(importlib.import_module(f"canto_nemo.curator_stages.{_EXPORTS[name]}"), name)

"""NeMo Curator stages for low-resource languages, language-agnostic: each takes a language pack.

Modifiers (use with Curator's `Modify`): Normalizer, DictionaryAwareCleaner, PiiRedactor.
Filters (use with `ScoreFilterWithRejects`, or Curator's `ScoreFilter`): DialectFilter, CharLengthFilter,
ScriptRatioFilter, SymbolRatioFilter, RepeatedLinesFilter, RepeatedCharNGramFilter.
Stages: InputPartitioner + RecordReader (reading), ExactHashStage / MinHashStage + DuplicateRemover (dedup).
Workflow: CurationWorkflow runs them all and accounts for every document; call configure_ray first.
"""

import importlib

# Where each public name lives. Loaded on first use (PEP 562), so `import curator_stages.ray_env` stays light
# and can run before anything imports Ray.
_EXPORTS = {
    "DictionaryAwareCleaner": "clean", "DuplicateRemover": "dedup", "ExactHashStage": "dedup",
    "find_exact_duplicates": "dedup", "DialectFilter": "dialect", "MinHashStage": "fuzzy_dedup",
    "find_fuzzy_duplicates": "fuzzy_dedup", "DialectResult": "language_pack", "LanguagePack": "language_pack",
    "PiiPattern": "language_pack", "get_pack": "language_pack", "MinHashConfig": "minhash", "Normalizer": "normalize",
    "PiiRedactor": "pii", "CharLengthFilter": "quality", "RepeatedCharNGramFilter": "quality",
    "RepeatedLinesFilter": "quality", "ScriptRatioFilter": "quality", "SymbolRatioFilter": "quality",
    "InputPartitioner": "readers", "RecordReader": "readers", "ScoreFilterWithRejects": "rejects",
    "configure_ray": "ray_env", "CurationWorkflow": "workflow",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'curator_stages' has no attribute {name!r}")
    return getattr(importlib.import_module(f"curator_stages.{_EXPORTS[name]}"), name)

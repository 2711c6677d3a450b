"""NeMo Curator stages for low-resource languages, language-agnostic: each takes a language pack.

Modifiers (use with Curator's `Modify`): Normalizer, DictionaryAwareCleaner, PiiRedactor.
Filters (use with `ScoreFilterWithRejects`, or Curator's `ScoreFilter`): DialectFilter, CharLengthFilter,
ScriptRatioFilter, SymbolRatioFilter, RepeatedLinesFilter, RepeatedCharNGramFilter.
Stages: InputPartitioner + RecordReader (reading), ExactHashStage + DuplicateRemover (exact dedup).
Workflow: CurationWorkflow runs them all and accounts for every document.
"""

from curator_stages.clean import DictionaryAwareCleaner
from curator_stages.dedup import DuplicateRemover, ExactHashStage, find_exact_duplicates
from curator_stages.dialect import DialectFilter
from curator_stages.language_pack import DialectResult, LanguagePack, PiiPattern, get_pack
from curator_stages.normalize import Normalizer
from curator_stages.pii import PiiRedactor
from curator_stages.quality import (
    CharLengthFilter,
    RepeatedCharNGramFilter,
    RepeatedLinesFilter,
    ScriptRatioFilter,
    SymbolRatioFilter,
)
from curator_stages.readers import InputPartitioner, RecordReader
from curator_stages.rejects import ScoreFilterWithRejects
from curator_stages.workflow import CurationWorkflow

__all__ = [
    "CharLengthFilter", "CurationWorkflow", "DialectFilter", "DialectResult", "DictionaryAwareCleaner",
    "DuplicateRemover", "ExactHashStage", "InputPartitioner", "LanguagePack", "Normalizer", "PiiPattern",
    "PiiRedactor", "RecordReader", "RepeatedCharNGramFilter", "RepeatedLinesFilter", "ScoreFilterWithRejects",
    "ScriptRatioFilter", "SymbolRatioFilter", "find_exact_duplicates", "get_pack",
]

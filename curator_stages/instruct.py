"""Instruction data as NeMo Curator stages: generate through any OpenAI-compatible endpoint, then filter with reasons.

Records are seeds: `id`, `kind`, and either `prompt` (the user turn, answered as is) or `question_prompt` (the
endpoint first writes the question, which becomes the prompt). The stages, in order:

1. `EndpointGenerator` (Curator's `BaseSyntheticStage`, through `nemo_curator.models.client` clients): the question
   where a seed asks for one, then the answer in `text`. A request the endpoint refuses is the row's
   `generation_error`, not a crash; an endpoint that cannot be reached stops the run.
2. Filters, each writing what it drops with stage and reason (curator_stages/rejects.py): `generation_failed`,
   length of the answer, refusals, prompt echoes (`echo_score`: the share of the answer copied from the question),
   the answer's dialect (the pack's judge, `DialectLabeler` + `DialectFilter`), its share of wrong-script
   characters (a function the pack gives), near-duplicates (MinHash over character n-grams, curator_stages/minhash.py)
   and diversity: character-level ROUGE-L against every answer kept so far (`rouge_score` tokenizes on ASCII words
   and drops every Han character, so it cannot be used for this).

Language-agnostic: prompts, refusal phrases and the script measure come from the pack's side (for Cantonese,
canto_nemo/cantonese/instruct.py). Instruction sets are small and the diversity filter compares each answer with
every one kept before it, so `run_in_process` runs the stages in this process over one batch, in seed order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import openai
import pandas as pd
import torch
from nemo_curator.stages.base import ProcessingStage
from nemo_curator.stages.synthetic.nemotron_cc.base import BaseSyntheticStage
from nemo_curator.stages.text.filters import DocumentFilter
from nemo_curator.tasks import DocumentBatch

from canto_nemo.curator_stages.lsh import candidate_pairs, clusters
from canto_nemo.curator_stages.minhash import MinHashConfig, band_keys, signatures
from canto_nemo.curator_stages.rejects import write_rejects

ERROR_FIELD = "generation_error"


def like(batch: DocumentBatch, data: pd.DataFrame) -> DocumentBatch:
    """A batch of `data` that keeps `batch`'s name, metadata and task id (rejects files are named by the task id)."""
    result = DocumentBatch(dataset_name=batch.dataset_name, data=data, _metadata=batch._metadata,
                           _stage_perf=batch._stage_perf)
    result.task_id = batch.task_id
    return result


class EndpointUnreachable(ConnectionError):
    """The endpoint could not be reached at all: nothing is generated, nothing written."""


# ------------------------------------------------------------------------------------------------------ generation


@dataclass
class EndpointGenerator(BaseSyntheticStage):
    """Curator's synthetic stage with per-row outcomes: rows whose `input_field` is empty pass through (their
    `output_field` keeps what it had); a request the endpoint answers with an error is recorded in
    `generation_error` and the row goes on, to be rejected by `GenerationErrorFilter`."""

    prompt: str = "{document}"  # Curator formats `prompt` with document=<input_field>: the seed is the prompt
    name: str = "generate"

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.output_field, ERROR_FIELD]

    def process(self, batch: DocumentBatch) -> DocumentBatch:
        df = batch.to_pandas().copy()
        if self.output_field not in df:
            df[self.output_field] = None
        if ERROR_FIELD not in df:
            df[ERROR_FIELD] = ""
        df[self.output_field] = df[self.output_field].astype(object)
        for index, row in df.iterrows():
            if not isinstance(row.get(self.input_field), str) or not row[self.input_field] or row[ERROR_FIELD]:
                continue
            text, error = self._generate(row)
            df.at[index, self.output_field] = text
            df.at[index, ERROR_FIELD] = error
        return like(batch, df)

    def _generate(self, row: pd.Series) -> tuple[str | None, str]:
        messages = [{"role": "user", "content": self._process_llm_prompt(row)}]
        if self.system_prompt:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        try:
            response = self.client.query_model(model=self.model_name, messages=messages,
                                               generation_config=self.generation_config)
        except openai.APIConnectionError as err:  # timeouts included: the endpoint is down, not this request
            raise EndpointUnreachable(f"the endpoint could not be reached while generating {row.get('id')!r}: "
                                      f"{err}") from err
        except openai.APIStatusError as err:
            return None, f"{self.name}: HTTP {err.status_code}: {err.message}"[:500]
        text = self._process_llm_response(response)
        return (text.strip(), "") if text and text.strip() else (None, f"{self.name}: empty response")


# --------------------------------------------------------------------------------------------------------- filters


class GenerationErrorFilter(DocumentFilter):
    """On `generation_error`: keeps rows without one."""

    def __init__(self) -> None:
        super().__init__()
        self._name = "generation"

    def score_document(self, text: str) -> str:
        return text

    def keep_document(self, error: str) -> bool:
        return not error

    def reject_reason(self, error: str) -> str:
        return "generation_failed"

    def reject_detail(self, error: str) -> str:
        return error


class RefusalFilter(DocumentFilter):
    """Drops answers that decline, or talk about the assistant, within their first `window` characters."""

    def __init__(self, patterns: Sequence[str], window: int = 80) -> None:
        super().__init__()
        self.patterns = [re.compile(p) for p in patterns]
        self.window = window
        self._name = "refusal"

    def score_document(self, text: str) -> str:
        head = text[: self.window]
        return next((m.group(0) for p in self.patterns if (m := p.search(head))), "")

    def keep_document(self, matched: str) -> bool:
        return not matched

    def reject_reason(self, matched: str) -> str:
        return "refusal"

    def reject_detail(self, matched: str) -> str:
        return f"says {matched!r}"


class MaxValueFilter(DocumentFilter):
    """Keeps rows whose numeric field is at most `maximum`; `reason` names a drop."""

    def __init__(self, maximum: float, reason: str) -> None:
        super().__init__()
        self.maximum, self.reason = maximum, reason
        self._name = reason

    def score_document(self, text: str) -> float:
        raise NotImplementedError("MaxValueFilter decides on a field a previous stage wrote")

    def keep_document(self, value: float) -> bool:
        return value <= self.maximum

    def reject_reason(self, value: float) -> str:
        return self.reason


class ScriptShareFilter(DocumentFilter):
    """Keeps answers whose share of wrong-script characters (`share(text)`, given by the pack: Simplified-only
    characters for Cantonese) is at most `max_share`."""

    def __init__(self, share: Callable[[str], float], max_share: float = 0.05) -> None:
        super().__init__()
        self.share, self.max_share = share, max_share
        self._name = "script_share"

    def score_document(self, text: str) -> float:
        return round(self.share(text), 4)

    def keep_document(self, score: float) -> bool:
        return score <= self.max_share

    def reject_reason(self, score: float) -> str:
        return "wrong_script"


# ------------------------------------------------------------------------------------------------ scoring stages


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of two strings, bit-parallel (Allison-Dix): one big-integer step per
    character of `b`, so comparing answers of a few hundred characters costs microseconds."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, char in enumerate(a):
        masks[char] = masks.get(char, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full
    for char in b:
        matched = row & masks.get(char, 0)
        row = ((row + matched) | (row - matched)) & full
    return len(a) - row.bit_count()


def _chars(text: str) -> str:
    return "".join(text.split())


def rouge_l(a: str, b: str) -> float:
    """Character-level ROUGE-L F1 of two texts (whitespace ignored)."""
    a, b = _chars(a), _chars(b)
    lcs = lcs_length(a, b)
    return 0.0 if lcs == 0 else 2 * lcs / (len(a) + len(b))


@dataclass
class EchoScorer(ProcessingStage[DocumentBatch, DocumentBatch]):
    """`echo_score`: the share of the answer's characters that copy the question, in order (LCS / answer length)."""

    question_field: str = "prompt"
    text_field: str = "text"
    name: str = "echo_score"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.question_field, self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], ["echo_score"]

    def process(self, batch: DocumentBatch) -> DocumentBatch:
        df = batch.to_pandas().copy()
        df["echo_score"] = [round(lcs_length(_chars(str(q or "")), _chars(a)) / max(1, len(_chars(a))), 4)
                            for q, a in zip(df[self.question_field], df[self.text_field], strict=True)]
        return like(batch, df)


@dataclass
class _RejectingStage(ProcessingStage[DocumentBatch, DocumentBatch]):
    """A stage that decides over the whole batch (not row by row) and writes its drops with a reason."""

    rejects_path: str | None = None
    text_field: str = "text"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def _split(self, batch: DocumentBatch, df: pd.DataFrame, drop: dict[int, tuple[str, str, dict]]
               ) -> DocumentBatch:
        """drop: row position -> (reason, detail, extra columns)."""
        keep = np.ones(len(df), dtype=bool)
        keep[list(drop)] = False
        if drop and self.rejects_path is not None:
            rejected = df.iloc[sorted(drop)].copy()
            rejected["stage"] = self.name
            rejected["reason"] = [drop[i][0] for i in sorted(drop)]
            rejected["detail"] = [drop[i][1] for i in sorted(drop)]
            for key in {k for v in drop.values() for k in v[2]}:
                rejected[key] = [drop[i][2].get(key) for i in sorted(drop)]
            write_rejects(self.rejects_path, self.name, batch.task_id, rejected)
        return like(batch, df[keep].reset_index(drop=True))


@dataclass
class NearDuplicateFilter(_RejectingStage):
    """Near-duplicate answers within the batch: the project's MinHash (character n-grams, LSH bands, candidates
    verified at `config.threshold`); the smallest id of each cluster survives, the others are `near_duplicate` with
    `duplicate_of`."""

    config: MinHashConfig = field(default_factory=lambda: MinHashConfig(ngram=3))
    pack: object = None  # folds spelling variants when the config says so
    id_field: str = "id"
    name: str = "near_duplicate"

    def process(self, batch: DocumentBatch) -> DocumentBatch:
        df = batch.to_pandas().reset_index(drop=True)
        if len(df) < 2:
            return self._split(batch, df, {})
        order = np.argsort(df[self.id_field].astype(str).to_numpy(), kind="stable")
        ids = df[self.id_field].astype(str).to_numpy()[order]
        signature = signatures(df[self.text_field].iloc[order].tolist(), self.config, "cpu", self.pack)
        pairs = candidate_pairs(band_keys(signature, self.config).numpy())
        if len(pairs) == 0:
            return self._split(batch, df, {})
        involved = np.unique(pairs)
        found = clusters(ids, pairs, involved, torch.as_tensor(signature.numpy()[involved]), self.config.threshold)
        row_of = {doc_id: int(order[i]) for i, doc_id in enumerate(ids)}
        drop = {row_of[k]: ("near_duplicate", f"near duplicate of {v}", {"duplicate_of": v})
                for k, v in zip(found.iloc[:, 0], found["duplicate_of_key"], strict=True)}
        return self._split(batch, df, drop)


@dataclass
class DiversityFilter(_RejectingStage):
    """Drops an answer whose character-level ROUGE-L F1 with any answer kept before it (in batch order) exceeds
    `max_rouge_l` (Self-Instruct's diversity rule, on characters: Han text has no spaces between words)."""

    max_rouge_l: float = 0.7
    id_field: str = "id"
    name: str = "diversity"

    def process(self, batch: DocumentBatch) -> DocumentBatch:
        df = batch.to_pandas().reset_index(drop=True)
        kept: list[tuple[str, str]] = []
        drop = {}
        for i, (doc_id, text) in enumerate(zip(df[self.id_field], df[self.text_field], strict=True)):
            best = max(((rouge_l(text, other), other_id) for other_id, other in kept), default=(0.0, None))
            if best[0] > self.max_rouge_l:
                drop[i] = ("low_diversity", f"ROUGE-L {best[0]:.2f} with {best[1]}", {"similar_to": best[1]})
            else:
                kept.append((doc_id, text))
        return self._split(batch, df, drop)


def run_in_process(stages: Sequence[ProcessingStage], batch: DocumentBatch) -> DocumentBatch:
    """The stages one after another on one batch in this process (each set up first), as an executor would run a
    one-task pipeline; an empty batch goes through unchanged."""
    for stage in stages:
        if batch.num_items == 0:
            break
        stage.setup(None)
        result = stage.process(batch)
        batch = result if result is not None else like(batch, batch.to_pandas().iloc[0:0])
    return batch

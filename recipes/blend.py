"""Token-budgeted blends of Megatron datasets: how much of each corpus, how many epochs, and the `paths` NeMo reads.

Token counts come from each prefix's `.idx` (megatron-core's `IndexedDataset`). Shares are given, or follow a sampling
temperature, p_i proportional to n_i^(1/T) (XLM, mT5, XGLM): T=1 is proportional to size, a large T near uniform. A
corpus may be repeated at most `max_epochs` times: Muennighoff et al., "Scaling Data-Constrained Language Models"
(2023), found up to about 4 epochs nearly as good as fresh data and returns falling fast after, so 4 is the default.

Writes FILE (JSON): `paths`, the argument of NeMo's `PreTrainingDataModule` (train and validation as the flat
[w1, p1, w2, p2, ...] list), and the table (tokens, share, epochs per corpus); FILE with `.md` for a person.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

DEFAULT_MAX_EPOCHS = 4.0


class BlendError(ValueError):
    """A blend that cannot be written as asked; the message says which corpus and what to change."""


@dataclass
class BlendRow:
    prefix: str
    corpus_tokens: int
    share: float
    tokens: int
    epochs: float
    validation: str | None


def corpus_tokens(prefix: str) -> int:
    """Tokens in a Megatron dataset, read from its `.idx` by megatron-core."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    missing = [ext for ext in (".bin", ".idx") if not Path(prefix + ext).is_file()]
    if missing:
        raise BlendError(f"data prefix {prefix}: no {' or '.join(prefix + e for e in missing)} "
                         "(run canto-nemo megatron-data, or fix the prefix)")
    dataset = IndexedDataset(prefix)  # sequence_lengths is a view of its mmap: it must outlive the sum
    return int(dataset.sequence_lengths.sum(dtype=np.int64))


def temperature_shares(tokens: list[int], temperature: float) -> list[float]:
    if temperature <= 0:
        raise BlendError(f"temperature must be > 0, got {temperature}")
    scaled = [n ** (1.0 / temperature) for n in tokens]
    return [s / sum(scaled) for s in scaled]


def _validation_of(prefix: str) -> str | None:
    """megatron-data writes PREFIX_train_text_document beside PREFIX_validation_text_document."""
    if prefix.endswith("_train_text_document"):
        candidate = prefix.removesuffix("_train_text_document") + "_validation_text_document"
        if Path(candidate + ".idx").is_file():
            return candidate
    return None


def plan(prefixes: list[str], budget: int, *, shares: list[float] | None = None, temperature: float | None = None,
         max_epochs: float = DEFAULT_MAX_EPOCHS) -> list[BlendRow]:
    """The blend of `budget` tokens over `prefixes`; refuses one that repeats a corpus more than `max_epochs`."""
    if not prefixes:
        raise BlendError("no data prefixes given (prefixes=[PREFIX_train_text_document,...])")
    if (shares is None) == (temperature is None):
        raise BlendError("give either shares=[...] (one per prefix) or temperature=T, not both or neither")
    if budget <= 0:
        raise BlendError(f"budget must be a positive number of tokens, got {budget}")
    tokens = [corpus_tokens(p) for p in prefixes]
    for prefix, n in zip(prefixes, tokens, strict=True):
        if n == 0:
            raise BlendError(f"data prefix {prefix} holds no tokens: leave it out")
    if shares is not None:
        if len(shares) != len(prefixes) or any(s <= 0 for s in shares):
            raise BlendError(f"shares must be {len(prefixes)} positive numbers, one per prefix; got {shares}")
        shares = [s / sum(shares) for s in shares]
    else:
        shares = temperature_shares(tokens, temperature)
    rows = [BlendRow(p, n, s, round(s * budget), s * budget / n, _validation_of(p))
            for p, n, s in zip(prefixes, tokens, shares, strict=True)]
    over = [r for r in rows if r.epochs > max_epochs]
    if over:
        lines = [f"{r.prefix}: {r.tokens:,} tokens of {r.corpus_tokens:,} is {r.epochs:.2f} epochs (at most "
                 f"{r.corpus_tokens * max_epochs:,.0f} tokens: share {r.corpus_tokens * max_epochs / budget:.4f})"
                 for r in over]
        raise BlendError(f"the blend repeats {len(over)} corpus(es) past max_epochs={max_epochs:g}:\n  "
                         + "\n  ".join(lines) + "\nlower the budget or these corpora's shares (a lower temperature "
                         "moves share to the large corpora); raise max_epochs only knowingly")
    return rows


def paths(rows: list[BlendRow]) -> dict:
    """NeMo's PreTrainingDataModule `paths`: the flat [weight, prefix, ...] lists per split."""
    train = [x for r in rows for x in (r.share, r.prefix)]
    held_out = [r for r in rows if r.validation]
    validation = [x for r in held_out for x in (r.share, r.validation)] if held_out else train
    return {"train": train, "validation": validation, "test": validation}


def table(rows: list[BlendRow], budget: int) -> str:
    width = max(len(Path(r.prefix).name) for r in rows)
    lines = [f"| {'corpus':<{width}} | corpus tokens |   blend tokens |  share | epochs |",
             f"|{'-' * (width + 2)}|--------------:|---------------:|-------:|-------:|"]
    lines += [f"| {Path(r.prefix).name:<{width}} | {r.corpus_tokens:>13,} | {r.tokens:>14,} | {r.share:>6.3f} | "
              f"{r.epochs:>6.2f} |" for r in rows]
    total = sum(r.corpus_tokens for r in rows)
    lines.append(f"| {'total':<{width}} | {total:>13,} | {budget:>14,} | {1:>6.3f} |        |")
    return "\n".join(lines)


def blend(prefixes: list[str], budget: int, output: str, shares: list[float] | None = None,
          temperature: float | None = None, max_epochs: float = DEFAULT_MAX_EPOCHS, overwrite: bool = False,
          progress=print) -> dict:
    """Plans the blend and writes `output` (JSON: paths, table) and `output` with .md (the table)."""
    from canto_nemo.common.outputs import prepare_output_files

    rows = plan(list(prefixes), int(budget), shares=list(shares) if shares is not None else None,
                temperature=temperature, max_epochs=max_epochs)
    out = Path(output)
    md = out.with_suffix(".md")
    prepare_output_files([out, md], overwrite)
    result = {"paths": paths(rows), "budget_tokens": int(budget), "temperature": temperature,
              "max_epochs": max_epochs, "corpora": [asdict(r) for r in rows]}
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    how = f"temperature {temperature:g}" if temperature is not None else "given shares"
    text = table(rows, int(budget))
    md.write_text(f"Blend of {int(budget):,} tokens ({how}, at most {max_epochs:g} epochs per corpus)\n\n{text}\n",
                  encoding="utf-8")
    progress(f"blend: {int(budget):,} tokens, {how} -> {out}\n{text}")
    return result


def load_paths(file: str) -> dict:
    """The `paths` of a file `blend` wrote (or of a plain {"train": [...], ...} JSON, as PREFIX_blend.json)."""
    path = Path(file)
    if not path.is_file():
        raise BlendError(f"blend file {file} does not exist (write one with canto-nemo blend)")
    data = json.loads(path.read_text(encoding="utf-8"))
    found = data.get("paths", data)
    if not isinstance(found, dict) or "train" not in found:
        raise BlendError(f"blend file {file} has no paths.train (write one with canto-nemo blend)")
    return found


REPLAY_MAX_SCORE = 0.1  # confident standard writing only: at most a 10% chance of being in the target variety


def replay_from_rejects(out: Path, pack: str = "cantonese") -> str | None:
    """The confident standard writing (for Cantonese: written Chinese) that a curation run's dialect step set aside,
    as JSONL under `out/replay/`: the replay part of a continued-pretraining blend, so that a base model keeps its
    standard writing (text in the target variety would defeat the purpose). None when there is none."""
    from canto_nemo.curator_stages.language_pack import get_pack
    from canto_nemo.curator_stages.stats import jsonl_records

    standard = get_pack(pack).standard_label
    lines = [json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n"
             for r in jsonl_records(Path(out) / "rejects") if r.get("reason") == standard and r.get("text")
             and (r.get("dialect_score") or 0) <= REPLAY_MAX_SCORE]
    if not lines:
        return None
    path = Path(out) / "replay" / f"{standard}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)

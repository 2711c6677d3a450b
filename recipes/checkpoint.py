"""Base checkpoints for continued pretraining: resize a Hugging Face model's embeddings to the extended tokenizer,
then import it into NeMo 2 with `llm.import_ckpt`.

The extension keeps every base id, so the base rows stay as they are. Each new row starts as the mean of the rows of
the base tokens it replaces (`added_tokens.tsv`, column base_ids): a new token for 嘅 begins where the byte pieces
that spelled 嘅 were, instead of at random. The embedding gets exactly the tokenizer's padded vocabulary, which is
what the recipes give the model; padding rows beyond the base's are the mean of the base rows.
"""

from __future__ import annotations

import json
from pathlib import Path


def new_rows(tokenizer_dir: str) -> dict[int, list[int]]:
    """New token id -> the base ids it replaces, from an extended tokenizer's added_tokens.tsv."""
    path = Path(tokenizer_dir) / "added_tokens.tsv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {tokenizer_dir} is not a tokenizer made by `tokenizer extend`")
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        token_id, _, _, base_ids = line.split("\t")
        rows[int(token_id)] = [int(i) for i in base_ids.split()]
    return rows


def resize_embeddings(base: str, tokenizer: str, output: str, overwrite: bool = False, progress=print) -> dict:
    """A copy of the Hugging Face model in `base` with embeddings (and an untied output layer) resized to the
    tokenizer's padded vocabulary, saved with the tokenizer to `output`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from canto_nemo.common.outputs import prepare_output_dir
    from canto_nemo.recipes.tokenizer import metadata

    meta = metadata(tokenizer)
    if meta is None:
        raise FileNotFoundError(f"{Path(tokenizer) / 'canto_tokenizer.json'} not found: tokenizer= is a folder made by "
                                "`canto-nemo tokenizer extend`")
    if not (Path(base) / "config.json").is_file():
        raise FileNotFoundError(f"no Hugging Face model at {base} (config.json missing); nothing is downloaded")
    rows = new_rows(tokenizer)
    out = prepare_output_dir(output, overwrite)
    model = AutoModelForCausalLM.from_pretrained(base, dtype="auto")
    old_size = model.get_input_embeddings().weight.shape[0]
    if meta["base_vocab_size"] > old_size:
        raise ValueError(f"{base} has {old_size} embedding rows, fewer than the tokenizer's base vocabulary "
                         f"{meta['base_vocab_size']}: the tokenizer was extended from another model")
    target = meta["padded_vocab_size"]  # may drop unused padding rows of the base: every id is below the vocab
    with torch.no_grad():
        old_in = model.get_input_embeddings().weight.detach().clone()
        old_out = None if model.config.tie_word_embeddings else model.get_output_embeddings().weight.detach().clone()
        model.resize_token_embeddings(target, mean_resizing=False)
        for matrix, old in ((model.get_input_embeddings().weight, old_in),
                            (None if old_out is None else model.get_output_embeddings().weight, old_out)):
            if matrix is None:
                continue
            mean = old[: meta["base_vocab_size"]].float().mean(dim=0).to(old.dtype)
            matrix[old.shape[0]:] = mean
            for token_id, base_ids in rows.items():
                matrix[token_id] = old[base_ids].float().mean(dim=0).to(old.dtype)
    model.config.vocab_size = target
    model.save_pretrained(output)
    AutoTokenizer.from_pretrained(tokenizer).save_pretrained(output)
    for name in ("canto_tokenizer.json", "added_tokens.tsv"):
        (out / name).write_bytes((Path(tokenizer) / name).read_bytes())
    info = {"base": base, "tokenizer": tokenizer, "rows_before": old_size, "rows_after": target,
            "initialised_from_base_pieces": len(rows)}
    (out / "resize.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    progress(f"resize-embeddings: {old_size:,} -> {target:,} rows ({info['initialised_from_base_pieces']:,} from "
             f"their base pieces) -> {output}")
    return info


def import_to_nemo(hf_dir: str, model: str, output: str) -> Path:
    """`llm.import_ckpt` of a resized Hugging Face folder into a NeMo 2 checkpoint (the cpt recipe's base); `model`
    names a conf/recipe/model/ option (qwen25_500m, llama32_1b, ...). Needs CUDA: megatron's checkpoint writer does."""
    import fiddle as fdl
    from nemo.collections import llm

    from canto_nemo.recipes.nemo_recipes import NEMO_RECIPES

    if model not in NEMO_RECIPES:
        raise ValueError(f"model={model!r}: one of {list(NEMO_RECIPES)} (a base model to continue from)")
    nemo_model = getattr(llm, model).model()  # NeMo's own model config of that recipe
    nemo_model.config.vocab_size = json.loads((Path(hf_dir) / "config.json").read_text(encoding="utf-8"))["vocab_size"]
    return llm.import_ckpt(model=fdl.build(nemo_model), source=f"hf://{hf_dir}", output_path=output)

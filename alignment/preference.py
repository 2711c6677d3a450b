"""`canto-nemo instruct preference`: preference pairs whose chosen answer is Cantonese and whose rejected answer says
the same in written Chinese, for DPO in TRL and NeMo-RL, and the prompts for GRPO.

The rejected answer is asked of an OpenAI-compatible endpoint (endpoint=URL: "rewrite this in standard written
Chinese") or converted word by word with the kaifangcidian and cmn2yue word lists (word_lists=DIR, default
../shared/data/dialect_train; no endpoint needed). A pair is kept only when the judge calls the chosen answer
Cantonese and the rejected one written Chinese; every other pair is a reject with its reason. Output, committed at
the end:

    DIR/trl/{train,validation}.jsonl       {"prompt": [messages], "chosen": [assistant], "rejected": [assistant]}
    DIR/nemo_rl/{train,validation}.jsonl   NeMo-RL PreferenceDataset: {"context": [messages], "completions":
                                           [{"rank": 0, "completion": [...]}, {"rank": 1, "completion": [...]}]}
    DIR/grpo/trl.jsonl                     {"prompt": [messages]} (+ "answer" where the SFT record has one)
    DIR/grpo/nemo_rl.jsonl                 NeMo-RL ResponseDataset: {"input", "output", "messages"}
    DIR/rejects/, DIR/stats.json, DIR/report.html, DIR/_SUCCESS
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from canto_nemo.alignment.instruct import _split, check_endpoint
from canto_nemo.alignment.staged import commit, endpoint_client, kept_stats, staged_run, write_jsonl

__all__ = ["DEFAULT_WORD_LISTS", "preference", "read_conversations"]

WORD_LISTS_ENV = "CANTO_NEMO_DIALECT_TRAIN"
# alignment/preference.py: parents[1] is the repository root, beside which ../shared/data lives.
DEFAULT_WORD_LISTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dialect_train"
SPLITS = {"training.jsonl": "train", "validation.jsonl": "validation"}


def read_conversations(sft: str | Path, validation_share: float = 0.1) -> list[dict]:
    """Chat records ({"messages": [...], "id"?}) from an SFT folder (instruct's DIR or DIR/sft: training.jsonl and
    validation.jsonl, whose names give the split) or one JSONL file (split by a hash of the id, `validation_share`);
    each record gets `split` (train or validation). A record without a final
    assistant turn after a user turn is an error naming the file and line."""
    root = Path(sft)
    if root.is_dir() and (root / "sft").is_dir():
        root = root / "sft"
    files = [root] if root.is_file() else [root / name for name in SPLITS if (root / name).is_file()]
    if not files:
        raise FileNotFoundError(f"no SFT data at {sft}: give instruct's output folder, its sft/ folder or a JSONL "
                                "file of {\"messages\": [...]}")
    records = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                messages = record["messages"]
                assert messages[-1]["role"] == "assistant" and messages[-2]["role"] == "user"
            except (json.JSONDecodeError, KeyError, IndexError, TypeError, AssertionError):
                raise ValueError(f"{path}, line {number}: not a chat record ending in a user turn and an "
                                 "assistant answer") from None
            records.append({"id": str(record.get("id", f"{path.stem}:{number}")), "messages": messages,
                            "answer": record.get("answer"), "split": SPLITS.get(path.name, "train")})
    if root.is_file():  # one file: validation by a hash of the id, as instruct splits its own output
        validation = {r["id"] for r in _split(records, validation_share)[1]}
        for record in records:
            record["split"] = "validation" if record["id"] in validation else "train"
    return records


def preference(
    sft: str,
    output: str,
    endpoint: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    word_lists: str | None = None,
    max_tokens: int = 384,
    seed: int = 0,
    timeout: float = 120,
    validation_share: float = 0.1,
    pack: str = "cantonese",
    overwrite: bool = False,
    progress=print,
) -> dict:
    """Preference pairs and GRPO prompts from SFT conversations into DIR (see the module docstring); `pack`: the
    language pack whose judge keeps chosen answers in its target variety and rejected ones in its standard one."""
    import pandas as pd
    from nemo_curator.models.client.llm_client import GenerationConfig
    from nemo_curator.tasks import DocumentBatch

    from canto_nemo.curator_stages import instruct as stages
    from canto_nemo.curator_stages.dialect import DialectFilter, DialectLabeler
    from canto_nemo.curator_stages.language_pack import get_pack
    from canto_nemo.curator_stages.rejects import FilterWithRejects

    started = time.time()
    PACK = get_pack(pack)
    pack_data = PACK.instruction_data()
    conversations = read_conversations(sft, validation_share)
    df = pd.DataFrame([{"id": c["id"], "split": c["split"], "text": c["messages"][-1]["content"],
                        "prompt_messages": c["messages"][:-1], "answer": c["answer"]} for c in conversations])
    if endpoint:
        model_name = check_endpoint(endpoint, api_key, model)
        how = f"rewritten by {model_name} at {endpoint}"
    else:
        folder = Path(word_lists or os.environ.get(WORD_LISTS_ENV) or DEFAULT_WORD_LISTS)
        files = [folder / "kfcd_words.tsv", folder / "cmn2yue.dic"]
        if not all(f.is_file() for f in files):
            raise FileNotFoundError(f"word lists {files[0].name} and {files[1].name} are not in {folder}: pass "
                                    f"word_lists=DIR (or set {WORD_LISTS_ENV}), or endpoint=URL to rewrite with a "
                                    "model")
        converter = pack_data.WrittenChineseConverter.from_files(*files)
        df["rejected"] = [converter.convert(t) for t in df["text"]]
        how = f"converted with the word lists in {folder} ({len(converter.pairs)} pairs)"
    with staged_run(output, overwrite) as (out, work):
        rejects = str(work / "rejects")
        progress(f"instruct preference: {len(df)} conversations, rejected answers {how}")

        pipeline = [DialectLabeler(PACK, text_field="text"),
                    DialectFilter(pack=PACK, keep_labels=(PACK.target_label,), rejects_path=rejects,
                                  name="chosen_dialect")]
        if endpoint:
            df["rewrite_prompt"] = [pack_data.TO_WRITTEN_CHINESE.format(text=t) for t in df["text"]]
            client = endpoint_client(endpoint, api_key, timeout)
            pipeline += [stages.EndpointGenerator(client=client, model_name=model_name, input_field="rewrite_prompt",
                                                  output_field="rejected", name="rewrite",
                                                  generation_config=GenerationConfig(max_tokens=max_tokens,
                                                                                     temperature=0.0, seed=seed)),
                         FilterWithRejects(filter_fn=stages.GenerationErrorFilter(), filter_field=stages.ERROR_FIELD,
                                           rejects_path=rejects, name="generation")]
        pipeline += [DialectLabeler(PACK, text_field="rejected"),
                     DialectFilter(pack=PACK, keep_labels=(PACK.standard_label,), rejects_path=rejects,
                                   name="rejected_dialect")]
        batch = DocumentBatch(dataset_name="preference", data=df)
        batch.task_id = "preference"
        kept = stages.run_in_process(pipeline, batch).to_pandas()
        pairs = json.loads(kept.to_json(orient="records", force_ascii=False)) if len(kept) else []

        names = ["chosen_dialect", *(["generation"] if endpoint else []), "rejected_dialect"]
        stats = kept_stats(work, pairs, "pairs", len(df), names, time.time() - started)
        stats["rejected_from"] = how
        for folder in ("trl", "nemo_rl", "grpo"):
            (work / folder).mkdir()
        for split in ("train", "validation"):
            part = [p for p in pairs if p["split"] == split]
            write_jsonl(work / "trl" / f"{split}.jsonl", [
                {"id": p["id"], "prompt": p["prompt_messages"], "chosen": [{"role": "assistant", "content": p["text"]}],
                 "rejected": [{"role": "assistant", "content": p["rejected"]}]} for p in part])
            write_jsonl(work / "nemo_rl" / f"{split}.jsonl", [
                {"id": p["id"], "context": p["prompt_messages"], "completions": [
                    {"rank": 0, "completion": [{"role": "assistant", "content": p["text"]}]},
                    {"rank": 1, "completion": [{"role": "assistant", "content": p["rejected"]}]}]} for p in part])
            stats.setdefault("pairs", {})[split] = len(part)
        # GRPO learns from its own samples: every conversation's prompt serves, not only those that made a pair.
        write_jsonl(work / "grpo" / "trl.jsonl", [
            {"id": c["id"], "prompt": c["messages"][:-1], **({"answer": c["answer"]} if c["answer"] else {})}
            for c in conversations])
        write_jsonl(work / "grpo" / "nemo_rl.jsonl", [
            {"id": c["id"], "input": c["messages"][-2]["content"], "output": c["answer"] or "",
             "messages": c["messages"][:-1]} for c in conversations])
        commit(out, work, stats, ("trl", "nemo_rl", "grpo", "rejects"))
    progress(f"instruct preference: {len(pairs)} pairs ({stats['pairs']['train']} train, "
             f"{stats['pairs']['validation']} validation), {stats['documents_rejected']} rejected; "
             f"{len(conversations)} GRPO prompts in {out / 'grpo'}")
    return stats

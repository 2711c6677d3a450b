"""`canto-nemo COMMAND [key=value ...]`: composes the Hydra config of a command and calls into the packages.

Commands: curate, dedup, detect, demo. Each takes `--help`.
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
  demo     [output=DIR]           curate the LIHKG posts in ../shared/data and the corpora pycantonese ships

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
"""

DEMO_HELP = """usage: canto-nemo demo [output=DIR]

Curates real Cantonese end to end: the LIHKG forum posts in ../shared/data/lihkg (when that folder is there) and the
HKCanCor, Common Voice and CTCPC text that pycantonese ships, into DIR (default demo_out), then prints a summary."""


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
        exact_dedup=cfg.exact_dedup, fuzzy_dedup=fuzzy, device=cfg.device, output_format=cfg.output_format,
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


def demo(args: list[str]) -> int:
    if "--help" in args or "-h" in args:
        print(DEMO_HELP)
        return 0
    output = _parse(args).get("output", "demo_out")
    inputs = ["pycantonese:hkcancor", "pycantonese:common_voice", "pycantonese:ctcpc"]
    lihkg = shared_data() / "lihkg"
    if lihkg.is_dir():
        inputs.insert(0, str(lihkg))
    else:
        print(f"canto-nemo demo: {lihkg} is not there; curating the packaged corpora only", file=sys.stderr)
    print(f"canto-nemo demo: curating {', '.join(inputs)} into {output}/ (takes a minute or two)")
    cfg = _compose([f"input=[{','.join(inputs)}]", f"output={output}", "overwrite=true"])
    stats = run_curation(cfg)
    _print_summary(stats, output)
    return 0 if stats["reconciled"] else 1


COMMANDS = {"curate": curate, "dedup": dedup, "detect": detect, "demo": demo}


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
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"canto-nemo {command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

"""The end-to-end demo (`canto-nemo demo`): curated text -> tokenizers -> Megatron data -> smoke training ->
evaluation, on the LIHKG posts in ../shared/data and the corpora pycantonese ships. Each step is the same call its own
command makes."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def shared_data() -> Path:
    """../shared/data beside the repository (or CANTO_NEMO_SHARED_DATA)."""
    env = os.environ.get("CANTO_NEMO_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def inputs() -> list[str]:
    found = ["pycantonese:hkcancor", "pycantonese:common_voice", "pycantonese:ctcpc"]
    lihkg = shared_data() / "lihkg"
    if lihkg.is_dir():
        found.insert(0, str(lihkg))
    else:
        print(f"canto-nemo demo: {lihkg} is not there; curating the packaged corpora only", file=sys.stderr)
    return found


def run(output: str = "demo_out", steps: int = 300, overwrite: bool = True) -> int:
    """The whole demo into `output` (by default rewritten on every run: it is the demo's own folder)."""
    from canto_nemo.common.outputs import prepare_output_dir
    from canto_nemo.curator_stages.stats import print_summary
    from canto_nemo.curator_stages.workflow import CurationWorkflow, compose

    prepare_output_dir(output, overwrite)
    sources = inputs()
    print(f"canto-nemo demo [1/6]: curating {', '.join(sources)} into {output}/ (takes a minute or two)")
    # Nothing the evaluation measures may train the model: pycantonese's CTCPC holds most of ud_hk's sentences.
    evaluation = [str(shared_data() / name) for name in ("ud_hk", "yue_benchmark") if (shared_data() / name).is_dir()]
    overrides = [f"input=[{','.join(sources)}]", f"output={output}", f"decontaminate=[{','.join(evaluation)}]"]
    stats = CurationWorkflow.run_config(compose(overrides))
    print_summary(stats, output)
    if not stats["reconciled"]:
        return 1
    return training(Path(output), steps, stats)


def training(out: Path, steps: int, stats: dict) -> int:
    """Curated text -> tokenizers -> Megatron data -> smoke training, then one screen of results."""
    from canto_nemo.recipes import megatron_data, smoke_train
    from canto_nemo.recipes import tokenizer as tok
    from canto_nemo.recipes.blend import replay_from_rejects

    print("\ncanto-nemo demo [2/6]: training a tokenizer from scratch and extending Qwen2.5's")
    # A small vocabulary keeps the CPU smoke model's output layer cheap; the extended one is for the NeMo recipes.
    trained = tok.train(out, str(out / "tokenizer"), vocab_size=8000, overwrite=True)
    extended = tok.extend("qwen2.5", out, str(out / "tokenizer_qwen2.5"), overwrite=True)
    print("\ncanto-nemo demo [3/6]: Megatron datasets")
    data_small = megatron_data.build(out, str(out / "tokenizer"), str(out / "megatron" / "canto_bpe8k"),
                                     overwrite=True)
    data_qwen = megatron_data.build(out, str(out / "tokenizer_qwen2.5"), str(out / "megatron" / "canto_qwen2.5"),
                                    overwrite=True)
    # Replay data for continued pretraining (conf/recipe/data/demo_qwen25_replay.yaml): the written Chinese that
    # the dialect step set aside, so the base model keeps its written Chinese.
    replay = replay_from_rejects(out)
    if replay is not None:
        try:
            megatron_data.build(replay, str(out / "tokenizer_qwen2.5"), str(out / "megatron" / "replay_zh_qwen2.5"),
                                overwrite=True)
        except ValueError as err:  # too few documents for a validation split: the replay is optional
            print(f"canto-nemo demo: no replay dataset ({err})", file=sys.stderr)
            replay = None
    blend_table = blend_for_cpt(out, replay is not None)
    print(f"\ncanto-nemo demo [4/6]: smoke training a tiny GPT on CPU ({steps} steps)")
    result = smoke_train.from_megatron_data(str(out / "megatron" / "canto_bpe8k"), str(out / "smoke_train"),
                                            steps=steps, overwrite=True)
    print("\ncanto-nemo demo [5/6]: fertility on held-out curated text (the validation documents)")
    valid = megatron_data.validation_texts(out, data_small["validation_fraction"])
    _, table = tok.fertility_table(["qwen2.5", str(out / "tokenizer_qwen2.5"), str(out / "tokenizer")], valid)

    evaluation = evaluate(out, result)

    print("\n" + "=" * 100)
    print(f"curated      {stats['documents_in']:,} documents in -> {stats['documents_out']:,} kept "
          f"(reconciled), {out}/report.html")
    labels = stats.get("dialect_labels") or {}
    print("dialect      " + ", ".join(f"{label} {v['documents']:,} ({v['share']:.0%}, {v['kept']:,} kept)"
                                      for label, v in labels.items()))
    print(f"tokenizers   trained {trained['vocab_size']:,} tokens: {out}/tokenizer;  Qwen2.5 extended "
          f"{extended['base_vocab_size']:,} -> {extended['vocab_size']:,} (padded {extended['padded_vocab_size']:,}): "
          f"{out}/tokenizer_qwen2.5")
    for name, m in (("canto_bpe8k", data_small), ("canto_qwen2.5", data_qwen)):
        print(f"megatron     {out}/megatron/{name}_*: {m['splits']['train']['documents']:,} train / "
              f"{m['splits']['validation']['documents']:,} validation documents, "
              f"{sum(s['tokens'] for s in m['splits'].values()):,} tokens")
    if replay is not None:
        print(f"replay       {out}/megatron/replay_zh_qwen2.5_*: the written Chinese set aside by the dialect step, "
              "blended into continued pretraining")
    if blend_table is not None:
        print(blend_table)
    print(f"smoke train  {result['parameters']:,} parameters, {result['steps']} steps: validation perplexity "
          f"{result['valid_ppl_before']:,.1f} -> {result['valid_ppl_after']:,.1f} "
          f"({result['tokens_per_second']:,.0f} tokens/s)")
    print(table)
    if evaluation is not None:
        print(evaluation)
    print("=" * 100)
    return 0 if result["valid_ppl_after"] <= result["valid_ppl_before"] / 2 else 1


BLEND_TEMPERATURE = 2.0  # up-samples the smaller corpus, as XLM/mT5 do (T=1: proportional; T=3 takes the demo's
# replay past 4 epochs, which the cap refuses)


def blend_for_cpt(out: Path, replay: bool) -> str | None:
    """The continued-pretraining blend of the curated Cantonese and the written-Chinese replay at BLEND_TEMPERATURE,
    for a budget of one pass over both: `cantonese_cpt(data='blend:OUT/megatron/blend_cpt.json')`."""
    from canto_nemo.recipes.blend import BlendError, blend, corpus_tokens

    if not replay:
        return None
    prefixes = [str(out / "megatron" / f"{name}_qwen2.5_train_text_document") for name in ("canto", "replay_zh")]
    budget = sum(corpus_tokens(p) for p in prefixes)
    try:
        written = blend(prefixes, budget, str(out / "megatron" / "blend_cpt.json"), temperature=BLEND_TEMPERATURE,
                        overwrite=True, progress=lambda line: None)
    except BlendError as err:  # the replay is too small to carry its share within the epoch cap: say so
        print(f"canto-nemo demo: no blend ({err})", file=sys.stderr)
        return None
    rows = "; ".join(f"{Path(r['prefix']).name.removesuffix('_train_text_document')} {r['tokens']:,} tokens "
                     f"(share {r['share']:.3f}, {r['epochs']:.2f} epochs)" for r in written["corpora"])
    return f"blend        T={BLEND_TEMPERATURE:g}, {budget:,} tokens: {rows}: {out}/megatron/blend_cpt.json (.md)"


EVAL_TASKS = ["cantonese_bpc", "yue_trans_zh_yue"]


def evaluate(out: Path, smoke: dict) -> str | None:
    """The smoke model before and after training, side by side (canto-nemo eval): bits per character on ud_hk's
    held-out Cantonese, and zh->yue translation with the dialect of its answers. None when the evaluation data is
    not beside the repository."""
    from canto_nemo.evaluation.run import evaluate as run_eval

    held_out, benchmark = shared_data() / "ud_hk" / "yue_hk-ud-test.conllu", shared_data() / "yue_benchmark"
    if smoke.get("hf") is None or not held_out.is_file() or not benchmark.is_dir():
        print(f"canto-nemo demo: no evaluation ({held_out} or {benchmark} is not there)", file=sys.stderr)
        return None
    print("\ncanto-nemo demo [6/6]: evaluating the model before and after training (lm-eval)")
    results = run_eval(str(out / "eval"), model=[str(out / "smoke_train" / "hf_initial"), smoke["hf"]],
                       tasks=EVAL_TASKS, benchmark=str(benchmark), held_out=str(held_out), max_gen_toks=64,
                       overwrite=True, progress=lambda line: print(line) if "done in" in line else None)
    before, after = (results["models"][name]["tasks"] for name in ("hf_initial", "hf"))
    bpc = [t["cantonese_bpc"]["metrics"]["bits_per_character,none"] for t in (before, after)]
    fidelity = [t["yue_trans_zh_yue"]["fidelity"] for t in (before, after)]
    return (f"evaluation   bits per character on ud_hk {bpc[0]:.2f} -> {bpc[1]:.2f}; zh->yue answers labelled "
            f"Cantonese {fidelity[0]['cantonese_share']:.0%} -> {fidelity[1]['cantonese_share']:.0%}: "
            f"{out}/eval/report.html")

"""Benchmark: does DPO on `canto-nemo instruct preference` pairs make a tiny model answer in Cantonese, and does GRPO's
dialect reward rise over its steps? Prints a table (and writes DIR/alignment.json).

The setup, all on CPU and all through the product's own functions:
1. kaifangcidian parallel sentences (../shared/data/dialect_train/kfcd_pairs.txt, CC BY 3.0; training data, no
   overlap with the evaluation sets) are shuffled and split three ways: base SFT, preference, held-out prompts.
2. A tiny Qwen2 (byte-level BPE trained here, ChatML) is fine-tuned (`align sft`) to answer a Cantonese request
   ("用廣東話講：<written Chinese>") in written Chinese most of the time (`--written-share`) and in Cantonese
   otherwise: a base model that drifts into written Chinese, as real ones do.
3. Preference pairs from the preference split (`instruct preference`, rejected answers converted with the word
   lists), then `align dpo` from the base.
4. Dialect fidelity of base and DPO model, greedy: on the held-out prompts (the judge's Cantonese share and the mean
   `dialect_reward`) and through the evaluation suite (`canto-nemo eval`, yue_trans_zh_yue, chat template; measured
   only, never trained on).
5. `align grpo` from the base with the pack's reward: the mean reward per step.

    python benchmarks/alignment.py --output /tmp/alignment_bench
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
# Requests phrased in Cantonese and in Mandarin, each written in Traditional and (converted) Simplified script, as
# real users write them; none comes from an evaluation set.
TEMPLATES = ("用廣東話講：{zh}", "將呢句變做廣東話口語：{zh}", "呢句用廣東話點講？{zh}",
             "請你用香港人講嘢嘅方式講：{zh}", "請用粵語說：{zh}", "這句話用廣東話怎麼說？{zh}",
             "幫我把這句改成粵語口語：{zh}")


def request(i: int, zh: str, simplified: bool) -> str:
    text = TEMPLATES[i % len(TEMPLATES)].format(zh=zh)
    if simplified:
        from canto_nemo.cantonese.variants import converter

        text = converter("t2s").convert(text)
    return text


def kfcd_pairs(seed: int) -> list[tuple[str, str]]:
    lines = (SHARED / "dialect_train" / "kfcd_pairs.txt").read_text(encoding="utf-8").splitlines()
    pairs = [tuple(line.split("|||")[1:3]) for line in lines if line.count("|||") == 2]
    pairs = [(yue.strip(), zh.strip()) for yue, zh in pairs if yue.strip() and zh.strip() and yue != zh]
    random.Random(seed).shuffle(pairs)
    return pairs


def chat(i: int, zh: str, answer: str, simplified: bool) -> dict:
    return {"id": f"kfcd-{i}", "messages": [{"role": "user", "content": request(i, zh, simplified)},
                                            {"role": "assistant", "content": answer}]}


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def tiny_model(folder: Path, texts: list[str], hidden: int, layers: int, seed: int) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from canto_nemo.recipes import tokenizer

    corpus = folder.parent / "tokenizer-corpus.jsonl"
    write_jsonl(corpus, [{"text": t} for t in texts])
    info = tokenizer.train(str(corpus), str(folder), vocab_size=4000, progress=lambda s: None)
    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=info["padded_vocab_size"], hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True, eos_token_id=info["eod_id"],
                         bos_token_id=info["eod_id"], pad_token_id=info["eod_id"])
    Qwen2ForCausalLM(config).save_pretrained(folder)
    return folder


def answers(model: str, prompts: list[str], max_new_tokens: int = 48) -> list[str]:
    """Greedy answers to single-turn chats, in batches (left padding)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model, padding_side="left")
    lm = AutoModelForCausalLM.from_pretrained(model).eval()
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    out = []
    for start in range(0, len(prompts), 32):
        texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
                 for p in prompts[start:start + 32]]
        batch = tok(texts, return_tensors="pt", padding=True, return_token_type_ids=False)
        with torch.no_grad():
            ids = lm.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False,
                              eos_token_id=[im_end, tok.eos_token_id], pad_token_id=tok.pad_token_id)
        out += [t.strip() for t in tok.batch_decode(ids[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)]
    return out


def fidelity(texts: list[str]) -> dict:
    from canto_nemo.cantonese.dialect import detect_dialect_batch
    from canto_nemo.cantonese.rewards import dialect_reward

    labels = [r.label for r in detect_dialect_batch(texts)]
    return {"cantonese_share": labels.count("cantonese") / len(labels),
            "written_chinese_share": labels.count("written_chinese") / len(labels),
            "dialect_reward": sum(dialect_reward(texts)) / len(texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default="/tmp/alignment_bench")
    parser.add_argument("--base-pairs", type=int, default=3000)
    parser.add_argument("--preference-pairs", type=int, default=1500)
    parser.add_argument("--held-out", type=int, default=200)
    parser.add_argument("--written-share", type=float, default=0.8)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--sft-steps", type=int, default=800)
    parser.add_argument("--dpo-steps", type=int, default=200)
    parser.add_argument("--dpo-lr", type=float, default=5e-5)
    parser.add_argument("--beta", type=float, default=0.1)
    parser.add_argument("--sft-weight", type=float, default=1.0, help="align dpo's SFT term on the chosen answers")
    parser.add_argument("--simplified-share", type=float, default=0.5,
                        help="share of requests written in Simplified script")
    parser.add_argument("--grpo-steps", type=int, default=40)
    parser.add_argument("--eval-limit", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from canto_nemo.alignment.align import dpo, grpo, sft
    from canto_nemo.alignment.preference import preference
    from canto_nemo.evaluation.run import evaluate

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    pairs = kfcd_pairs(args.seed)
    base_pairs = pairs[:args.base_pairs]
    pref_pairs = pairs[args.base_pairs:args.base_pairs + args.preference_pairs]
    held_out = pairs[args.base_pairs + args.preference_pairs:][:args.held_out]
    rng = random.Random(args.seed)
    # Answers stay in Traditional script (Hong Kong Cantonese and the corpus are written in it); only requests vary.
    base_chats = [chat(i, zh, zh if rng.random() < args.written_share else yue, rng.random() < args.simplified_share)
                  for i, (yue, zh) in enumerate(base_pairs)]
    write_jsonl(out / "base_sft.jsonl", base_chats)
    offset = len(base_pairs)
    write_jsonl(out / "preference_sft.jsonl",
                [chat(offset + i, zh, yue, rng.random() < args.simplified_share)
                 for i, (yue, zh) in enumerate(pref_pairs)])
    held_prompts = [request(i, zh, rng.random() < args.simplified_share) for i, (_, zh) in enumerate(held_out)]

    started = time.time()
    model = tiny_model(out / "tiny", [t for p in base_pairs + pref_pairs for t in p], args.hidden, args.layers,
                       args.seed)
    quiet = lambda s: None  # noqa: E731
    sft(model=str(model), data=str(out / "base_sft.jsonl"), output=str(out / "base"), steps=args.sft_steps,
        batch_size=16, learning_rate=1e-3, seed=args.seed, device="cpu", overwrite=True, progress=quiet)
    timings["tokenizer + base SFT"] = time.time() - started
    base = str(out / "base" / "model")

    started = time.time()
    pref_stats = preference(sft=str(out / "preference_sft.jsonl"), output=str(out / "preference"), overwrite=True,
                            progress=quiet)
    timings["preference pairs"] = time.time() - started
    started = time.time()
    dpo_run = dpo(model=base, data=str(out / "preference"), output=str(out / "dpo"), steps=args.dpo_steps,
                  batch_size=16, learning_rate=args.dpo_lr, beta=args.beta, sft_weight=args.sft_weight, seed=args.seed,
                  device="cpu", overwrite=True, progress=quiet)
    timings["DPO"] = time.time() - started
    aligned = str(out / "dpo" / "model")

    started = time.time()
    generated = {"base": answers(base, held_prompts), "dpo": answers(aligned, held_prompts)}
    held = {name: {**fidelity(texts), "examples": [{"prompt": p, "answer": a} for p, a in
                                                    zip(held_prompts[:5], texts[:5], strict=True)]}
            for name, texts in generated.items()}
    timings["held-out generation"] = time.time() - started
    started = time.time()
    suite = evaluate(output=str(out / "eval"), model=[base, aligned], tasks=["yue_trans_zh_yue"], limit=args.eval_limit,
                     chat=True, max_gen_toks=48, overwrite=True, progress=quiet)
    timings["eval suite"] = time.time() - started
    names = list(suite["models"])
    suite_fidelity = {label: suite["models"][name]["tasks"]["yue_trans_zh_yue"]["fidelity"]
                      for label, name in zip(("base", "dpo"), names, strict=True)}
    suite_chrf = {label: suite["models"][name]["tasks"]["yue_trans_zh_yue"]["metrics"]["chrf,none"]
                  for label, name in zip(("base", "dpo"), names, strict=True)}

    started = time.time()
    grpo_run = grpo(model=base, data=str(out / "preference"), output=str(out / "grpo"), steps=args.grpo_steps,
                    batch_size=8, num_generations=4, max_completion_length=32, learning_rate=1e-4,
                    seed=args.seed, device="cpu", overwrite=True, progress=quiet)
    timings["GRPO"] = time.time() - started
    rewards = [e["reward"] for e in grpo_run["log"] if "reward" in e]

    dpo_log = [e for e in dpo_run["log"] if "rewards/margins" in e]
    summary = {"args": vars(args), "preference": {"in": pref_stats["documents_in"], "pairs": pref_stats["pairs"],
                                                  "rejected": pref_stats["documents_rejected"]},
               "held_out": held, "suite": {k: {m: v[m] for m in ("cantonese_share", "simplified_char_share",
                                                                 "dialect_reward", "labels")}
                                           for k, v in suite_fidelity.items()},
               "suite_chrf": suite_chrf,
               "dpo": {"first_margin": dpo_log[0]["rewards/margins"], "last_margins": [e["rewards/margins"]
                                                                                      for e in dpo_log[-10:]],
                       "last_accuracy": sum(e["rewards/accuracies"] for e in dpo_log[-10:]) / len(dpo_log[-10:]),
                       # below 0: DPO pushed the chosen answers down too (what the SFT term is there to stop)
                       "last_chosen_rewards": [e["rewards/chosen"] for e in dpo_log[-10:]]},
               "grpo_rewards": rewards, "timings_s": {k: round(v, 1) for k, v in timings.items()}}
    (out / "alignment.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")

    print(f"\npreference pairs: {sum(pref_stats['pairs'].values())} of {pref_stats['documents_in']} "
          f"({pref_stats['documents_rejected']} rejected with reasons)")
    print("\n| measured on | model | Cantonese share | written-Chinese share | mean dialect_reward | chrF |")
    print("|---|---|---|---|---|---|")
    for name in ("base", "dpo"):
        h = held[name]
        print(f"| {len(held_prompts)} held-out kfcd prompts | {name} | {h['cantonese_share']:.3f} | "
              f"{h['written_chinese_share']:.3f} | {h['dialect_reward']:.3f} | |")
    for name in ("base", "dpo"):
        s = suite_fidelity[name]
        print(f"| eval suite yue_trans_zh_yue ({args.eval_limit}) | {name} | {s['cantonese_share']:.3f} | "
              f"{s['labels'].get('written_chinese', 0.0):.3f} | {s['dialect_reward']:.3f} | {suite_chrf[name]:.2f} |")
    print("\nfirst held-out answers (base -> dpo):")
    for b, d in zip(held["base"]["examples"][:3], held["dpo"]["examples"][:3], strict=True):
        print(f"  {b['prompt']}\n    base: {b['answer'][:60]!r}\n    dpo:  {d['answer'][:60]!r}")
    print(f"\nDPO: reward margin {dpo_log[0]['rewards/margins']:.3f} at step 1, mean of the last 10 steps "
          f"{sum(summary['dpo']['last_margins']) / len(summary['dpo']['last_margins']):.3f}, preference accuracy "
          f"{summary['dpo']['last_accuracy']:.2f}, chosen reward "
          f"{sum(summary['dpo']['last_chosen_rewards']) / len(summary['dpo']['last_chosen_rewards']):.3f}")
    print(f"GRPO: mean reward of the first 10 steps {sum(rewards[:10]) / len(rewards[:10]):.3f}, of the last 10 "
          f"{sum(rewards[-10:]) / len(rewards[-10:]):.3f}")
    chunk = max(1, len(rewards) // 8)
    print("\n| GRPO steps | mean reward |\n|---|---|")
    for i in range(0, len(rewards), chunk):
        part = rewards[i:i + chunk]
        print(f"| {i + 1}-{i + len(part)} | {sum(part) / len(part):.3f} |")
    print("\n| part | seconds |\n|---|---|")
    for key, value in summary["timings_s"].items():
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()

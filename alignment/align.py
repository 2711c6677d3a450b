"""`canto-nemo align sft|dpo|grpo`: post-training a Hugging Face model folder with TRL, writing one.

DPO learns from `canto-nemo instruct preference` pairs (chosen Cantonese, rejected written Chinese); GRPO samples
answers to the prompts and rewards them with the pack's `dialect_reward` (canto_nemo/cantonese/rewards.py, the same
function the evaluation's fidelity reports); SFT (for small runs here; `cantonese_sft` is NeMo's recipe for GPUs)
learns instruct's chat JSONL. One process runs on CPU (`use_cpu`, float32) or one GPU (bf16 where it has it);
`accelerate launch -m canto_nemo.cli align ...` spreads the same run over a node's GPUs. Output, committed at the end
(a run that fails leaves no model behind):

    DIR/model/            the trained model, its tokenizer and chat template (load with from_pretrained)
    DIR/align.json        method, options, versions, every logged step (loss, DPO margins, GRPO rewards)
    DIR/_SUCCESS
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from canto_nemo.common.outputs import prepare_output_dir

__all__ = ["check_model", "dpo", "grpo", "read_jsonl", "sft"]


def check_model(model: str) -> None:
    """A Hugging Face causal-LM folder whose tokenizer has a chat template (every method formats chats with it); a
    clear error, before anything is written, otherwise."""
    folder = Path(model)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"model {model} is not a Hugging Face model folder (no config.json): export a NeMo "
                                "checkpoint with llm.export_ckpt(path, target='hf') first")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    if not tokenizer.chat_template:
        raise ValueError(f"model {model} has no chat template (tokenizer_config.json chat_template or "
                         "chat_template.jinja): alignment formats prompts as chats; add the template the model was "
                         "trained with")


def read_jsonl(data: str | Path, default_files: tuple[str, ...], required: tuple[str, ...]) -> list[dict]:
    """Records from a JSONL file, or from the first of `default_files` under a folder; each must carry `required`
    (lists of chat messages); an error names the file and line otherwise."""
    path = Path(data)
    if path.is_dir():
        found = [path / name for name in default_files if (path / name).is_file()]
        if not found:
            raise FileNotFoundError(f"no {' or '.join(default_files)} under {data}")
        path = found[0]
    if not path.is_file():
        raise FileNotFoundError(f"data file {data} does not exist")
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}, line {number}: not JSON ({err.msg})") from None
        bad = [k for k in required if not (isinstance(record, dict) and isinstance(record.get(k), list)
                                           and record[k] and all(isinstance(m, dict) and "content" in m
                                                                 for m in record[k]))]
        if bad:
            raise ValueError(f"{path}, line {number}: needs {', '.join(bad)} as a list of chat messages "
                             "({\"role\", \"content\"})")
        records.append(record)
    if not records:
        raise ValueError(f"{path} holds no records")
    return records


def _device_args(device: str) -> dict:
    import torch

    cuda = torch.cuda.is_available() and device != "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device=cuda but torch sees no GPU: use device=cpu or auto")
    return {"use_cpu": not cuda, "bf16": cuda and torch.cuda.is_bf16_supported(), "fp16": False}


def _common_args(work: Path, steps: int, batch_size: int, learning_rate: float, seed: int, device: str,
                 gradient_accumulation_steps: int) -> dict:
    return {"output_dir": str(work / "trainer"), "max_steps": steps, "per_device_train_batch_size": batch_size,
            "gradient_accumulation_steps": gradient_accumulation_steps, "learning_rate": learning_rate,
            "lr_scheduler_type": "constant", "warmup_steps": 0, "logging_steps": 1, "save_strategy": "no",
            "report_to": [], "seed": seed, "data_seed": seed, "dataloader_num_workers": 0,
            "disable_tqdm": True, **_device_args(device)}


def _run(method: str, model: str, output: str, overwrite: bool, options: dict, build, progress) -> dict:
    """Checks, trains in DIR/_work, then commits DIR/model and DIR/align.json; removes the work on failure."""
    check_model(model)
    out = prepare_output_dir(output, overwrite)
    work = out / "_work"
    shutil.rmtree(work, ignore_errors=True)
    started = time.time()
    try:
        trainer = build(work)
        progress(f"align {method}: {options['steps']} steps on {len(trainer.train_dataset)} records from {model}")
        trainer.train()
        trainer.save_model(str(work / "model"))
        trainer.processing_class.save_pretrained(str(work / "model"))
        import torch
        import transformers
        import trl

        summary = {"method": method, "base_model": str(Path(model).resolve()), "options": options,
                   "versions": {"trl": trl.__version__, "transformers": transformers.__version__,
                                "torch": torch.__version__},
                   "elapsed_s": round(time.time() - started, 1),
                   "log": [dict(entry) for entry in trainer.state.log_history]}
        (work / "align.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str) + "\n",
                                         encoding="utf-8")
        for name in ("model", "align.json"):
            (work / name).rename(out / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "_SUCCESS").write_text("")
    progress(f"align {method}: wrote {out / 'model'} ({summary['elapsed_s']} s)")
    return summary


def _tokenizer(model: str, padding_side: str = "right"):
    """The model's tokenizer, giving only what a causal LM takes: a tokenizer that also returns `token_type_ids`
    (a plain PreTrainedTokenizerFast does) breaks `generate` in GRPO."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model, padding_side=padding_side)
    tokenizer.model_input_names = [n for n in tokenizer.model_input_names if n != "token_type_ids"]
    return tokenizer


def _messages(record: dict, key: str) -> list[dict]:
    return [{"role": m.get("role", "assistant"), "content": str(m["content"])} for m in record[key]]


def dpo(
    model: str,
    data: str,
    output: str,
    steps: int = 100,
    batch_size: int = 8,
    gradient_accumulation_steps: int = 1,
    learning_rate: float = 5e-5,
    beta: float = 0.1,
    sft_weight: float = 1.0,
    max_length: int = 512,
    seed: int = 0,
    device: str = "auto",
    overwrite: bool = False,
    progress=print,
) -> dict:
    """DPO on preference pairs (instruct preference's DIR, DIR/trl or a JSONL of {"prompt", "chosen", "rejected"}
    chat messages); the reference model is the base folder itself.

    `sft_weight` adds that times the chosen answers' mean token NLL to the DPO loss (RPO; TRL's loss_type "sft"):
    plain DPO can raise the margin by pushing the chosen answers down too, and a small model then drifts into text
    that is neither answer. NeMo-RL's Megatron DPO recipe has the same term (`sft_loss_weight: 0.01` there, on
    summed rather than mean token log-probs, so its 0.01 is not this 0.01). 0 is plain DPO."""
    records = read_jsonl(Path(data) / "trl" if (Path(data) / "trl").is_dir() else data, ("train.jsonl",),
                         ("prompt", "chosen", "rejected"))
    options = {"data": str(data), "steps": steps, "batch_size": batch_size, "learning_rate": learning_rate,
               "beta": beta, "sft_weight": sft_weight, "max_length": max_length, "seed": seed, "device": device,
               "gradient_accumulation_steps": gradient_accumulation_steps}
    if sft_weight < 0:
        raise ValueError(f"sft_weight={sft_weight} must be 0 (plain DPO) or more")
    losses = {"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, sft_weight]} if sft_weight else {}

    def build(work: Path):
        from datasets import Dataset
        from trl import DPOConfig, DPOTrainer

        dataset = Dataset.from_list([{k: _messages(r, k) for k in ("prompt", "chosen", "rejected")}
                                     for r in records])
        args = DPOConfig(beta=beta, max_length=max_length, **losses, **_common_args(
            work, steps, batch_size, learning_rate, seed, device, gradient_accumulation_steps))
        return DPOTrainer(model=model, args=args, train_dataset=dataset,
                          processing_class=_tokenizer(model))

    return _run("dpo", model, output, overwrite, options, build, progress)


def grpo(
    model: str,
    data: str,
    output: str,
    steps: int = 50,
    batch_size: int = 8,
    num_generations: int = 4,
    max_completion_length: int = 64,
    temperature: float = 1.0,
    gradient_accumulation_steps: int = 1,
    learning_rate: float = 1e-5,
    beta: float = 0.0,
    seed: int = 0,
    device: str = "auto",
    pack: str = "cantonese",
    overwrite: bool = False,
    progress=print,
) -> dict:
    """GRPO on prompts (instruct preference's DIR, DIR/grpo or a JSONL of {"prompt": [messages], "answer"?}) with
    the pack's reward (`LanguagePack.reward`); an `answer` column makes it the task score too (for Cantonese: the last
    number must match)."""
    from canto_nemo.curator_stages.language_pack import get_pack

    rewarding = get_pack(pack)

    def dialect_reward(completions, **columns) -> list[float]:  # TRL logs a reward function by its name
        return rewarding.reward(completions, **columns)

    source = Path(data) / "grpo" if (Path(data) / "grpo").is_dir() else data
    records = read_jsonl(source, ("trl.jsonl",), ("prompt",))
    if batch_size % num_generations:
        raise ValueError(f"batch_size={batch_size} must be a multiple of num_generations={num_generations} "
                         "(each prompt's answers form one group)")
    options = {"data": str(data), "steps": steps, "batch_size": batch_size, "num_generations": num_generations,
               "max_completion_length": max_completion_length, "temperature": temperature,
               "learning_rate": learning_rate, "beta": beta, "seed": seed, "device": device,
               "gradient_accumulation_steps": gradient_accumulation_steps}

    def build(work: Path):
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer

        rows = [{"prompt": _messages(r, "prompt"), "answer": r.get("answer")} for r in records]
        if all(row["answer"] is None for row in rows):
            rows = [{"prompt": row["prompt"]} for row in rows]
        args = GRPOConfig(num_generations=num_generations, max_completion_length=max_completion_length,
                          temperature=temperature, beta=beta, **_common_args(
                              work, steps, batch_size, learning_rate, seed, device, gradient_accumulation_steps))
        return GRPOTrainer(model=model, reward_funcs=[dialect_reward], args=args, train_dataset=Dataset.from_list(rows),
                           processing_class=_tokenizer(model, "left"))

    return _run("grpo", model, output, overwrite, options, build, progress)


def sft(
    model: str,
    data: str,
    output: str,
    steps: int = 100,
    batch_size: int = 8,
    gradient_accumulation_steps: int = 1,
    learning_rate: float = 1e-4,
    max_length: int = 512,
    seed: int = 0,
    device: str = "auto",
    overwrite: bool = False,
    progress=print,
) -> dict:
    """Supervised fine-tuning on chat records (instruct's DIR, DIR/sft or a JSONL of {"messages"}), loss on the
    assistant turns only."""
    source = Path(data) / "sft" if (Path(data) / "sft").is_dir() else data
    records = read_jsonl(source, ("training.jsonl",), ("messages",))
    options = {"data": str(data), "steps": steps, "batch_size": batch_size, "learning_rate": learning_rate,
               "max_length": max_length, "seed": seed, "device": device,
               "gradient_accumulation_steps": gradient_accumulation_steps}

    def build(work: Path):
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer

        # prompt/completion rows: TRL then computes the loss on the completion only, whatever the template.
        rows = [{"prompt": _messages(r, "messages")[:-1], "completion": _messages(r, "messages")[-1:]}
                for r in records]
        args = SFTConfig(max_length=max_length, **_common_args(
            work, steps, batch_size, learning_rate, seed, device, gradient_accumulation_steps))
        return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows),
                          processing_class=_tokenizer(model))

    return _run("sft", model, output, overwrite, options, build, progress)

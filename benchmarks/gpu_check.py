"""The GPU half of the project, measured in one command on a lent GPU machine (`bash scripts/gpu_check.sh`).

The device's stock image is not this project's `.venv`: Python 3.12, torch with CUDA, transformers, no NeMo, no NeMo
Curator, no Ray, no network. What else the check needs travels: the wheels of `scripts/gpu_wheels.txt` in `.whl/`
and the data and models `prepare` builds here into `.gpu_check/` (both made by `scripts/gpu_wheels.sh`). The project's
own code is imported from the source tree through a shim (`use_project`), so the modules a part needs must import
without Curator or NeMo: the MinHash kernel (`curator_stages/minhash.py`), the LSH steps (`curator_stages/lsh.py`),
the generation loop and the server (`serving/`), the reward (`cantonese/rewards.py`).

Parts, in order, each with its share of `--budget` seconds; one part's failure is recorded with its traceback and
never stops the next:
1. environment   GPU, driver, torch and CUDA versions; a bf16 matmul's TFLOP/s (the practical peak for MFU)
2. minhash       MinHash signatures of Wikipedia paragraphs on CUDA and on the CPU path: identical, documents/s,
                 ratio; rensa where it travels; LSH candidates verified on both devices: the same duplicates
3. training      a GPT of the 1B recipe's shape (megatron-core, local spec, bf16) on the project's Megatron
                 `.bin/.idx`: loss, tokens/s, MFU against part 1's peak and the H100 datasheet's 989 TFLOP/s
4. serving       the project's server (FastAPI, real HTTP on loopback) on CUDA: one stream, 8 concurrent, time to
                 first token, one Cantonese completion
5. alignment     DPO steps through TRL (the project's `align dpo`) on the carried model; the dialect reward of its
                 answers before and after
6. gpu tests     `pytest -m gpu` over the test files that hold gpu tests

Figures go to OUT/gpu_check.json (rewritten after every part) and one line each to stdout.

    bash scripts/gpu_check.sh [--budget 480] [--out DIR]      # on the device (OUT defaults to $OUT)
    bash scripts/gpu_check.sh --dry-run                        # here, in .venv: every part on CPU, tiny sizes
    .venv/bin/python benchmarks/gpu_check.py prepare            # what travels (scripts/gpu_wheels.sh runs it)
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TRAVEL = REPO / ".gpu_check"  # what prepare builds and the device command carries
H100_DATASHEET_TFLOPS = 989.0  # dense bf16, SXM
TRAVEL_LIMIT_MIB = 64
PACKAGES = ("common", "curator_stages", "cantonese", "recipes", "vocabulary", "evaluation", "serving", "alignment",
            "conf")  # the source folders installed under canto_nemo
PROMPT = "香港嘅天氣"


@dataclass(frozen=True)
class Sizes:
    """How much each part does. The defaults fit an H100 in about 8 minutes with installs (the 1B recipe's shape,
    llama32_1b, at sequence length 2048 where the recipe uses 8192)."""

    documents: int = 200_000
    rensa_documents: int = 20_000
    vocab_size: int = 16_000
    text_chars: int = 2_000_000  # tokenizer and Megatron data
    tiny_steps: int = 150  # the carried model's CPU training here
    layers: int = 16
    hidden: int = 2048
    ffn: int = 8192
    heads: int = 32
    groups: int = 8
    seq_length: int = 2048
    micro_batch: int = 4
    steps: int = 100
    warmup_steps: int = 5
    matmul: int = 8192
    max_tokens: int = 128
    streams: int = 8
    dpo_steps: int = 10
    dpo_pairs: int = 64


DRY_RUN = Sizes(documents=2_000, rensa_documents=500, vocab_size=1_000, text_chars=200_000, tiny_steps=10, layers=2,
                hidden=64, ffn=256, heads=4, groups=2, seq_length=64, micro_batch=2, steps=6, warmup_steps=2,
                matmul=256, max_tokens=8, streams=2, dpo_steps=2, dpo_pairs=8)

# Each part's share of the budget (seconds at the default 480): installs and imports take the rest.
SHARES = {"environment": 0.05, "minhash": 0.15, "training": 0.35, "serving": 0.12, "alignment": 0.15,
          "gpu_tests": 0.08}


def scaled(sizes: Sizes, budget: float) -> Sizes:
    """Sizes for a smaller budget than the default 480 s: fewer documents, layers and steps (never more)."""
    f = min(1.0, budget / 480)
    if f >= 1.0:
        return sizes
    return replace(sizes, documents=max(1000, int(sizes.documents * f)), layers=max(2, int(sizes.layers * f)),
                   steps=max(sizes.warmup_steps + 2, int(sizes.steps * f)),
                   rensa_documents=max(200, int(sizes.rensa_documents * f)))


# ------------------------------------------------------------------------------------------------ the project


def use_project() -> str:
    """Makes `canto_nemo` importable: the installed package (this project's .venv), or else the source tree through a
    folder of links that lays the folders out as the distribution does (setuptools' package-dir), with a dist-info
    whose entry points register the language packs (the device image has the code but no install)."""
    try:
        import canto_nemo.curator_stages  # noqa: F401
        return "installed"
    except ImportError:
        # a `canto_nemo` found on the way (the repository's own folder of that name, from the working directory)
        # lacks the other folders: forget it, so that the shim's is the one imported
        for name in [m for m in sys.modules if m.split(".")[0] == "canto_nemo"]:
            del sys.modules[name]
    import tomllib

    shim = Path(tempfile.mkdtemp(prefix="canto_nemo_shim_"))
    package = shim / "canto_nemo"
    package.mkdir()
    for entry in (REPO / "canto_nemo").iterdir():
        (package / entry.name).symlink_to(entry)
    for name in PACKAGES:
        (package / name).symlink_to(REPO / name)
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    info = shim / f"canto_nemo-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: canto-nemo\nVersion: {project['version']}\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items()) + "\n"
        for group, entries in project.get("entry-points", {}).items()))
    sys.path.insert(0, str(shim))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shim), os.environ.get("PYTHONPATH")]))
    return f"source tree through {shim}"


# ------------------------------------------------------------------------------------------------ the report


class Report:
    """Figures by part, written to OUT/gpu_check.json after every part; a part that raises is recorded, not fatal."""

    def __init__(self, out: Path, sizes: Sizes, budget: float, dry_run: bool) -> None:
        self.out = out
        self.path = out / "gpu_check.json"
        self.data = {"started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "dry_run": dry_run, "budget_s": budget,
                     "sizes": asdict(sizes), "parts": {}}
        self.budget = budget
        self.state: dict = {}  # what one part hands the next (the peak TFLOP/s, the trained model's folder)

    def figure(self, part: str, name: str, value, unit: str = "") -> None:
        self.data["parts"].setdefault(part, {}).setdefault("figures", {})[name] = value
        shown = f"{value:,.4g}" if isinstance(value, float) else value
        print(f"[gpu_check] {part}.{name}: {shown}{' ' + unit if unit else ''}", flush=True)

    def run(self, part: str, function, *args) -> None:
        entry = self.data["parts"].setdefault(part, {})
        entry["budget_s"] = round(SHARES[part] * self.budget, 1)
        started = time.perf_counter()
        try:
            function(self, entry["budget_s"], *args)
            entry["ok"] = True
        except Exception as error:  # one part's failure must not stop the others
            entry["ok"] = False
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = traceback.format_exc()
            print(f"[gpu_check] {part} FAILED: {entry['error']}", flush=True)
        entry["seconds"] = round(time.perf_counter() - started, 1)
        self.write()

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ------------------------------------------------------------------------------------------------ 1. environment


def part_environment(report: Report, budget: float, sizes: Sizes, device: str) -> None:
    import torch

    p = "environment"
    report.figure(p, "python", platform.python_version())
    report.figure(p, "torch", torch.__version__)
    report.figure(p, "cuda", str(torch.version.cuda))
    report.figure(p, "device", device)
    report.figure(p, "project", report.state["project"])
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        report.figure(p, "gpu", props.name)
        report.figure(p, "gpu_memory_gib", round(props.total_memory / 2**30, 1))
        report.figure(p, "multiprocessors", props.multi_processor_count)
        try:
            driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                    capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError) as error:
            driver = f"unknown ({error})"
        report.figure(p, "driver", driver)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    n = sizes.matmul
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync(device)
    repeats = 10
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    _sync(device)
    tflops = 2 * n**3 * repeats / (time.perf_counter() - started) / 1e12
    report.state["peak_tflops"] = tflops
    report.figure(p, f"matmul_{str(dtype).removeprefix('torch.')}_{n}_tflops", round(tflops, 1), "TFLOP/s")


# ------------------------------------------------------------------------------------------------ 2. minhash


def read_documents(travel: Path, limit: int) -> tuple[list[str], list[str]]:
    ids, texts = [], []
    with gzip.open(travel / "docs.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            ids.append(record["id"])
            texts.append(record["text"])
            if len(texts) >= limit:
                break
    return ids, texts


def part_minhash(report: Report, budget: float, sizes: Sizes, device: str, travel: Path) -> None:
    import numpy as np
    import torch

    from canto_nemo.cantonese import PACK
    from canto_nemo.curator_stages.lsh import candidate_pairs, clusters
    from canto_nemo.curator_stages.minhash import MinHashConfig, band_keys, normalise_for_shingles, signatures

    p = "minhash"
    ids, texts = read_documents(travel, sizes.documents)
    config = MinHashConfig()
    characters = sum(map(len, texts))
    report.figure(p, "documents", len(texts))
    report.figure(p, "characters", characters)
    report.figure(p, "cpu_threads", torch.get_num_threads())

    started = time.perf_counter()
    normalised = normalise_for_shingles(texts, config, PACK)
    normalise_s = time.perf_counter() - started
    report.figure(p, "normalise_s", round(normalise_s, 2), "s (the same CPU step on both paths)")
    plain = replace(config, fold_variants=False, ignore_punctuation=False)  # the kernel alone, on normalised text

    signatures(normalised[:1000], plain, device)  # warm-up: CUDA context, kernels, permutations
    _sync(device)
    timings = {}
    results = {}
    for name, where in (("cpu", "cpu"), ("gpu", device)):
        started = time.perf_counter()
        results[name] = signatures(normalised, plain, where)
        _sync(where)
        timings[name] = time.perf_counter() - started
        report.figure(p, f"{name}_kernel_docs_per_s", round(len(texts) / timings[name]), f"documents/s on {where}")
        report.figure(p, f"{name}_end_to_end_docs_per_s", round(len(texts) / (timings[name] + normalise_s)),
                      "documents/s with normalisation")
    identical = torch.equal(results["cpu"], results["gpu"])
    report.figure(p, "identical_signatures", identical)
    report.figure(p, "gpu_over_cpu_kernel", round(timings["cpu"] / timings["gpu"], 2), "x")
    report.figure(p, "gpu_over_cpu_end_to_end", round((timings["cpu"] + normalise_s) / (timings["gpu"] + normalise_s),
                                                      2), "x")
    if not identical:
        raise AssertionError("CUDA and CPU signatures differ")

    try:
        from rensa import RMinHash
    except ImportError as error:
        report.figure(p, "rensa", f"not available ({error})")
    else:
        subset = normalised[: sizes.rensa_documents]
        started = time.perf_counter()
        for text in subset:
            m = RMinHash(num_perm=config.num_perm, seed=config.seed)
            m.update([text[i:i + config.ngram] for i in range(max(1, len(text) - config.ngram + 1))])
            m.digest()
        rensa_rate = len(subset) / (time.perf_counter() - started)
        report.figure(p, "rensa_docs_per_s", round(rensa_rate), f"documents/s (one core, {len(subset):,} documents)")
        report.figure(p, "gpu_over_rensa_kernel", round(len(texts) / timings["gpu"] / rensa_rate, 2), "x")

    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    sorted_ids = np.asarray(ids, dtype=object)[order]
    signature = results["cpu"][torch.as_tensor(order)]
    started = time.perf_counter()
    pairs = candidate_pairs(band_keys(signature, config).numpy())
    report.figure(p, "lsh_candidate_pairs", len(pairs))
    report.figure(p, "lsh_buckets_s", round(time.perf_counter() - started, 2), "s (numpy, CPU)")
    involved = np.unique(pairs)
    found = {}
    for name, where in (("cpu", "cpu"), ("gpu", device)):
        started = time.perf_counter()
        found[name] = clusters(sorted_ids, pairs, involved, signature[torch.as_tensor(involved)], config.threshold,
                               where)
        report.figure(p, f"verify_{name}_s", round(time.perf_counter() - started, 3), f"s on {where}")
    report.figure(p, "near_duplicates", len(found["cpu"]))
    same = found["cpu"].reset_index(drop=True).equals(found["gpu"].reset_index(drop=True))
    report.figure(p, "identical_duplicates", same)
    if not same:
        raise AssertionError("CUDA and CPU verification found different duplicates")


# ------------------------------------------------------------------------------------------------ 3. training


def flops_per_token(layers: int, hidden: int, ffn: int, heads: int, groups: int, vocab: int, seq: int) -> float:
    """Model FLOPs of one token's forward and backward (3x the forward): every matmul's weights (queries, keys and
    values of `groups` groups, output, the SwiGLU's three matrices, the output layer) and attention's two products
    over the whole sequence (no discount for the causal mask), as MFU is usually counted."""
    head_dim = hidden // heads
    per_layer = hidden * hidden * 2 + 2 * hidden * groups * head_dim + 3 * hidden * ffn
    forward = 2 * (layers * per_layer + hidden * vocab) + 4 * layers * seq * hidden
    return 3.0 * forward


def part_training(report: Report, budget: float, sizes: Sizes, device: str, travel: Path) -> None:
    import torch

    p = "training"
    manifest = json.loads((travel / "megatron" / "wiki_manifest.json").read_text(encoding="utf-8"))
    vocab, eod = manifest["padded_vocab_size"], manifest["eod_id"]
    prefixes = {split: str(travel / "megatron" / Path(prefix).name) for split, prefix in manifest["prefixes"].items()}
    s = sizes
    report.figure(p, "shape", f"{s.layers} layers, hidden {s.hidden}, ffn {s.ffn}, {s.heads} heads, {s.groups} "
                             f"query groups, vocab {vocab}, sequence {s.seq_length}, micro-batch {s.micro_batch}")
    if s.layers < Sizes().layers:
        report.figure(p, "layers_cut", f"{s.layers} of the 1B recipe's {Sizes().layers} (budget)")
    try:
        from canto_nemo.recipes import smoke_train
    except ImportError as error:
        report.figure(p, "model", f"transformers LlamaForCausalLM (sdpa), NOT megatron-core: {error}")
        losses, seconds, hf = _train_transformers(report, budget, s, device, vocab, eod, prefixes, travel)
    else:
        report.figure(p, "model", "megatron-core GPTModel, local layer spec (no Transformer Engine)")
        while True:  # the local spec's attention keeps its score matrices: halve the micro-batch if they do not fit
            try:
                losses, seconds, hf = _train_megatron(report, budget, s, device, vocab, eod, prefixes, travel,
                                                      smoke_train)
                break
            except torch.OutOfMemoryError:
                if s.micro_batch == 1:
                    raise
                s = replace(s, micro_batch=s.micro_batch // 2)
                torch.cuda.empty_cache()
                report.figure(p, "out_of_memory", f"retried with micro-batch {s.micro_batch}")
    timed = len(losses) - s.warmup_steps
    tokens_per_s = timed * s.micro_batch * s.seq_length / seconds
    flops = flops_per_token(s.layers, s.hidden, s.ffn, s.heads, s.groups, vocab, s.seq_length)
    report.figure(p, "steps", len(losses))
    report.figure(p, "loss_first", round(losses[0], 3))
    report.figure(p, "loss_last", round(sum(losses[-3:]) / len(losses[-3:]), 3), "(mean of the last 3)")
    report.figure(p, "loss_falling", sum(losses[-3:]) / len(losses[-3:]) < losses[0])
    report.figure(p, "tokens_per_s", round(tokens_per_s), f"tokens/s over {timed} steps after {s.warmup_steps} warm-up")
    report.figure(p, "model_tflops", round(flops * tokens_per_s / 1e12, 1), "TFLOP/s")
    report.figure(p, "mfu_vs_measured_peak", round(flops * tokens_per_s / 1e12 / report.state["peak_tflops"], 3))
    report.figure(p, "mfu_vs_h100_datasheet", round(flops * tokens_per_s / 1e12 / H100_DATASHEET_TFLOPS, 3))
    if device.startswith("cuda"):
        report.figure(p, "peak_memory_gib", round(torch.cuda.max_memory_allocated() / 2**30, 1))
    if hf is not None:
        report.state["hf"] = hf


def _budgeted(steps: int, warmup: int, budget: float, loss_of, model, optimizer) -> tuple[list[float], float]:
    """Trains on loss_of(i) until `steps` or the budget; returns the losses and the seconds after `warmup` steps."""
    import torch

    losses, started, timed_from = [], time.perf_counter(), None
    for i in range(steps):
        if i == warmup:
            timed_from = time.perf_counter()
        loss = loss_of(i)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
        if time.perf_counter() - started > budget and i > warmup + 1:
            break
    return losses, time.perf_counter() - timed_from


def _train_megatron(report, budget, s, device, vocab, eod, prefixes, travel, smoke_train):
    import contextlib

    import torch
    from megatron.core.tensor_parallel import model_parallel_cuda_manual_seed

    cuda = device.startswith("cuda")
    work = report.out / "training"
    on_cpu = contextlib.nullcontext() if cuda else smoke_train._cpu_current_device()
    with torch.random.fork_rng(devices=[]), on_cpu, smoke_train._single_process_group("nccl" if cuda else "gloo"):
        torch.manual_seed(0)
        model_parallel_cuda_manual_seed(0, inference_rng_tracker=True, force_reset_rng=True)
        train, _ = smoke_train._build_datasets(prefixes["train"], prefixes["validation"], vocab, eod, work / "cache",
                                               s.seq_length, 0, s.steps * s.micro_batch, s.micro_batch)
        loader = iter(torch.utils.data.DataLoader(train, batch_size=s.micro_batch, num_workers=0))
        dtype = torch.bfloat16 if cuda else torch.float32
        model = smoke_train._build_model(vocab, s.seq_length, s.layers, s.hidden, s.heads, ffn_hidden_size=s.ffn,
                                         num_query_groups=s.groups, dtype=dtype, on_cpu=not cuda).to(device)
        report.figure("training", "parameters", sum(x.numel() for x in model.parameters()))
        # bf16 weights and torch's fused AdamW: not Megatron's distributed optimizer (fp32 main weights), which
        # needs its DDP wrapper; the step's matmuls are the same.
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1,
                                      fused=cuda)

        def loss_of(i: int):
            return smoke_train._batch_loss(model, {k: v.to(device, non_blocking=True) for k, v in next(loader).items()})

        losses, seconds = _budgeted(s.steps, s.warmup_steps, budget * 0.8, loss_of, model, optimizer)
        hf = None
        try:
            hf = smoke_train.export_hf(model.float().cpu(), str(travel / "tokenizer"), work / "hf")
            report.figure("training", "export", f"{hf} (NeMo's Llama export transforms)")
        except ImportError as error:
            report.figure("training", "export", f"not run: NeMo is not on this image ({error}); the serving part "
                                                 "uses the model exported where NeMo is (carried)")
    return losses, seconds, str(hf) if hf else None


def _train_transformers(report, budget, s, device, vocab, eod, prefixes, travel):
    import numpy as np
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    cuda = device.startswith("cuda")
    manifest = json.loads((travel / "megatron" / "wiki_manifest.json").read_text(encoding="utf-8"))
    dtype = np.uint16 if manifest["padded_vocab_size"] < 65_500 else np.int32  # megatron_data.token_dtype's rule
    tokens = np.fromfile(prefixes["train"] + ".bin", dtype=dtype).astype(np.int64)
    window = s.seq_length
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(
        vocab_size=vocab, hidden_size=s.hidden, intermediate_size=s.ffn, num_hidden_layers=s.layers,
        num_attention_heads=s.heads, num_key_value_heads=s.groups, max_position_embeddings=s.seq_length,
        tie_word_embeddings=True, eos_token_id=eod, bos_token_id=eod, attn_implementation="sdpa"))
    model = model.to(device, torch.bfloat16 if cuda else torch.float32).train()
    report.figure("training", "parameters", sum(x.numel() for x in model.parameters()))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=cuda)
    rng = np.random.default_rng(0)

    def loss_of(i: int):
        starts = rng.integers(0, len(tokens) - window, s.micro_batch)
        batch = torch.as_tensor(np.stack([tokens[a:a + window] for a in starts]), device=device)
        return model(input_ids=batch, labels=batch).loss  # transformers shifts the labels itself

    losses, seconds = _budgeted(s.steps, s.warmup_steps, budget * 0.8, loss_of, model, optimizer)
    hf = report.out / "training" / "hf"
    model.save_pretrained(hf)
    AutoTokenizer.from_pretrained(travel / "tokenizer").save_pretrained(hf)
    report.figure("training", "export", f"{hf} (save_pretrained: the model is a transformers one)")
    return losses, seconds, str(hf)


# ------------------------------------------------------------------------------------------------ 4. serving


def _sse_tokens(response) -> tuple[float | None, int, str]:
    """(seconds to the first text, completion tokens from the usage chunk, the text) of a streamed completion."""
    started, first, text, tokens = time.perf_counter(), None, [], 0
    for line in response.iter_lines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        for choice in chunk.get("choices", []):
            if choice.get("text"):
                first = first if first is not None else time.perf_counter() - started
                text.append(choice["text"])
    return first, tokens, "".join(text)


def part_serving(report: Report, budget: float, sizes: Sizes, device: str, travel: Path) -> None:
    p = "serving"
    folder = report.state.get("hf") or str(travel / "tiny" / "hf")
    report.figure(p, "model", folder)
    try:
        import httpx

        from canto_nemo.serving.server import build_app, serving
    except ImportError as error:
        report.figure(p, "server", f"not available ({error}): the generation loop alone")
        _generation_only(report, folder, sizes, device)
        return
    app = build_app(model=folder, device=device, max_concurrent=sizes.streams, queue_size=2 * sizes.streams,
                    max_tokens_limit=max(1024, sizes.max_tokens))
    body = {"model": "x", "prompt": PROMPT, "max_tokens": sizes.max_tokens, "temperature": 0, "ignore_eos": True,
            "stream": True, "stream_options": {"include_usage": True}}
    with serving(app) as url, httpx.Client(base_url=url, timeout=120) as client:
        body["model"] = client.get("/v1/models").json()["data"][0]["id"]

        def one() -> tuple[float | None, int, str]:
            with client.stream("POST", "/v1/completions", json=body) as response:
                response.raise_for_status()
                return _sse_tokens(response)

        one()  # warm-up
        started = time.perf_counter()
        ttft, tokens, _ = one()
        elapsed = time.perf_counter() - started
        report.figure(p, "one_stream_tokens_per_s", round(tokens / elapsed, 1), "tokens/s")
        report.figure(p, "time_to_first_token_ms", round(1000 * (ttft or elapsed), 1), "ms")
        results: list = [None] * sizes.streams

        def worker(i: int) -> None:
            results[i] = one()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(sizes.streams)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        total = sum(r[1] for r in results)
        report.figure(p, f"{sizes.streams}_streams_tokens_per_s", round(total / elapsed, 1), "tokens/s in all")
        report.figure(p, f"{sizes.streams}_streams_ttft_ms_max", round(1000 * max(r[0] or elapsed for r in results), 1),
                      "ms")
        answer = client.post("/v1/completions", json={**body, "stream": False, "stream_options": None,
                                                      "ignore_eos": False, "max_tokens": 48}).json()
        report.figure(p, "completion", PROMPT + answer["choices"][0]["text"])


def _generation_only(report: Report, folder: str, sizes: Sizes, device: str) -> None:
    from canto_nemo.serving.generation import Engine, Sampling

    engine = Engine(folder, device)
    ids = engine.encode(PROMPT)
    sampling = Sampling(max_tokens=sizes.max_tokens, temperature=0, ignore_eos=True)
    list(engine.generate(ids, sampling, threading.Event()))
    started = time.perf_counter()
    steps = list(engine.generate(ids, sampling, threading.Event()))
    report.figure("serving", "one_stream_tokens_per_s", round(len(steps) / (time.perf_counter() - started), 1))
    report.figure("serving", "completion", PROMPT + "".join(step.text for step in steps[:48]))


# ------------------------------------------------------------------------------------------------ 5. alignment


def _answers(folder: str, prompts: list[str], device: str, max_tokens: int) -> list[str]:
    from canto_nemo.serving.generation import Engine, Sampling

    engine = Engine(folder, device)
    sampling = Sampling(max_tokens=max_tokens, temperature=0)
    return ["".join(step.text for step in engine.generate(engine.chat_prompt([{"role": "user", "content": prompt}]),
                                                          sampling, threading.Event())) for prompt in prompts]


def part_alignment(report: Report, budget: float, sizes: Sizes, device: str, travel: Path) -> None:
    from canto_nemo.alignment import align
    from canto_nemo.cantonese.rewards import dialect_reward

    p = "alignment"
    model = str(travel / "tiny" / "hf")
    data = travel / "preference.jsonl"
    prompts = [json.loads(line)["prompt"][0]["content"] for line in data.read_text(encoding="utf-8").splitlines()[:8]]
    before = _answers(model, prompts, device, 24)
    summary = align.dpo(model=model, data=str(data), output=str(report.out / "dpo"), steps=sizes.dpo_steps,
                        batch_size=8, device="cpu" if device == "cpu" else "auto", overwrite=True,
                        progress=lambda line: None)
    losses = [entry["loss"] for entry in summary["log"] if "loss" in entry]
    runtime = next(entry["train_runtime"] for entry in summary["log"] if "train_runtime" in entry)
    report.figure(p, "trainer", f"TRL {summary['versions']['trl']} DPOTrainer, {summary['options']['steps']} steps, "
                                f"batch 8, sft_weight {summary['options']['sft_weight']}")
    report.figure(p, "steps_per_s", round(sizes.dpo_steps / runtime, 2), "steps/s")
    report.figure(p, "loss_first", round(losses[0], 4))
    report.figure(p, "loss_last", round(losses[-1], 4))
    after = _answers(str(report.out / "dpo" / "model"), prompts, device, 24)
    report.figure(p, "dialect_reward_before", round(sum(dialect_reward(before)) / len(before), 4))
    report.figure(p, "dialect_reward_after", round(sum(dialect_reward(after)) / len(after), 4))


# ------------------------------------------------------------------------------------------------ 6. gpu tests


def part_gpu_tests(report: Report, budget: float, sizes: Sizes, device: str) -> None:
    files = sorted(str(path.relative_to(REPO)) for path in (REPO / "tests").rglob("test_*.py")
                   if "mark.gpu" in path.read_text(encoding="utf-8"))
    report.figure("gpu_tests", "files", files)
    # -P: the working directory (the repository) must not come first on the path, or its folder canto_nemo
    # (without the other folders) would shadow the shim's
    done = subprocess.run([sys.executable, "-P", "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", *files],
                          cwd=REPO, capture_output=True, text=True, timeout=max(60, budget * 2))
    lines = (done.stdout + done.stderr).strip().splitlines()
    report.figure("gpu_tests", "exit_code", done.returncode)
    report.figure("gpu_tests", "summary", lines[-1] if lines else "")
    (report.out / "gpu_tests.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode not in (0, 5) and not (device == "cpu" and "skipped" in (lines[-1] if lines else "")):
        raise AssertionError(f"pytest -m gpu exited {done.returncode}: {lines[-1] if lines else ''}")


# ------------------------------------------------------------------------------------------------ prepare


def prepare(travel: Path, sizes: Sizes, progress=print) -> dict:
    """Builds what the device cannot (it has no NeMo, no Curator, no shared data): Wikipedia paragraphs, a tokenizer
    trained on them, Megatron datasets written with it, a tiny model trained and exported by the project's own CPU
    path (smoke_train: megatron-core, then NeMo's Llama export) and DPO pairs from kaifangcidian."""
    from canto_nemo.recipes import megatron_data, smoke_train, tokenizer

    wikipedia = SHARED_DATA / "yue_wikipedia"
    if not wikipedia.is_dir():
        raise FileNotFoundError(f"{wikipedia} not found: prepare reads ../shared/data beside the repository")
    travel.mkdir(parents=True, exist_ok=True)
    docs, chars, text = 0, 0, travel / "text.jsonl"
    with gzip.open(travel / "docs.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as out, \
            text.open("w", encoding="utf-8") as text_out:
        for path in sorted(wikipedia.glob("wiki_*.jsonl.gz")):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                for line in f:
                    article = json.loads(line)
                    for n, paragraph in enumerate(article["text"].split("\n")):
                        paragraph = paragraph.strip()
                        if len(paragraph) < 20:  # headings and debris: not documents
                            continue
                        record = json.dumps({"id": f"{article['id']}:{n}", "text": paragraph}, ensure_ascii=False)
                        out.write(record + "\n")
                        if chars < sizes.text_chars:
                            text_out.write(record + "\n")
                            chars += len(paragraph)
                        docs += 1
                        if docs >= sizes.documents:
                            break
                    if docs >= sizes.documents:
                        break
            if docs >= sizes.documents:
                break
    quiet = lambda line: None  # noqa: E731
    tokenizer.train(str(text), str(travel / "tokenizer"), vocab_size=sizes.vocab_size, overwrite=True,
                    progress=quiet)
    megatron_data.build(str(text), str(travel / "tokenizer"), str(travel / "megatron" / "wiki"),
                        validation_fraction=0.05, progress=quiet, overwrite=True)
    text.unlink()
    smoke_train.from_megatron_data(str(travel / "megatron" / "wiki"), str(travel / "tiny"), steps=sizes.tiny_steps,
                                   overwrite=True, progress=quiet)
    for leftover in ("cache", "hf_initial"):
        subprocess.run(["rm", "-rf", str(travel / "tiny" / leftover)], check=True)
    pairs = []
    with (SHARED_DATA / "dialect_train" / "kfcd_pairs.txt").open(encoding="utf-8") as f:
        for line in f:
            _, cantonese, written = line.rstrip("\n").split("|||")
            if len(cantonese) >= 6 and len(written) >= 6 and cantonese != written:
                pairs.append({"prompt": [{"role": "user", "content": f"用廣東話講：{written}"}],
                              "chosen": [{"role": "assistant", "content": cantonese}],
                              "rejected": [{"role": "assistant", "content": written}]})
            if len(pairs) >= sizes.dpo_pairs:
                break
    (travel / "preference.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pairs),
                                             encoding="utf-8")
    progress(f"prepare: {docs:,} documents, tokenizer, Megatron data, tiny model, {len(pairs)} pairs -> {travel}")
    return {"documents": docs, "pairs": len(pairs)}


def travel_size(carried: list[Path]) -> dict:
    """MiB of what a device call sends: the working tree (tracked and untracked files git does not ignore) and the
    carried folders."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    sizes = {"tree": sum((REPO / f).stat().st_size for f in listed if f and (REPO / f).is_file())}
    for folder in carried:
        sizes[folder.name] = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0
    mib = {name: round(size / 2**20, 2) for name, size in sizes.items()}
    mib["total"] = round(sum(sizes.values()) / 2**20, 2)
    return mib


# ------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="check", choices=["check", "prepare", "travel"])
    parser.add_argument("--dry-run", action="store_true", help="every part on CPU with tiny sizes (this .venv)")
    parser.add_argument("--budget", type=float, default=480, help="seconds for the whole check (sizes shrink)")
    parser.add_argument("--out", default=os.environ.get("OUT") or "gpu_check_out", help="folder for the figures")
    parser.add_argument("--travel", help=f"the folder prepare writes and the check reads (default {TRAVEL.name}; "
                                         "a dry run prepares its own in OUT unless this is given)")
    args = parser.parse_args(argv)
    sizes = DRY_RUN if args.dry_run else scaled(Sizes(), args.budget)
    travel = Path(args.travel or TRAVEL)
    if args.command == "travel":
        mib = travel_size([REPO / ".whl", travel])
        print("travel (MiB): " + ", ".join(f"{k} {v}" for k, v in mib.items()) + f" (limit {TRAVEL_LIMIT_MIB})")
        return 0 if mib["total"] < TRAVEL_LIMIT_MIB else 1
    project = use_project()
    if args.command == "prepare":
        prepare(travel, sizes)
        return 0

    import torch

    device = "cuda" if torch.cuda.is_available() and not args.dry_run else "cpu"
    out = Path(args.out)
    report = Report(out, sizes, args.budget, args.dry_run)
    report.state["project"] = project
    if args.dry_run and not args.travel:
        travel = out / "travel"
        prepare(travel, sizes)
    elif not (travel / "tiny" / "hf").is_dir():
        print(f"[gpu_check] {travel} is missing or incomplete: run scripts/gpu_wheels.sh where the project is "
              "installed, and carry .gpu_check", flush=True)
    report.run("environment", part_environment, sizes, device)
    report.run("minhash", part_minhash, sizes, device, travel)
    report.run("training", part_training, sizes, device, travel)
    report.run("serving", part_serving, sizes, device, travel)
    report.run("alignment", part_alignment, sizes, device, travel)
    report.run("gpu_tests", part_gpu_tests, sizes, device)
    failed = [name for name, part in report.data["parts"].items() if not part.get("ok")]
    report.data["failed"] = failed
    report.write()
    print(f"[gpu_check] wrote {report.path}; failed parts: {', '.join(failed) or 'none'}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Smoke training: a tiny megatron-core GPTModel trained for a few hundred steps on CPU from Megatron indexed datasets.

It proves the data path into Megatron works end to end: the `.bin/.idx` files this project writes are read by
megatron-core's own `GPTDataset` (through `BlendedMegatronDatasetBuilder`, as NeMo's `PreTrainingDataModule` does),
fed to a real `GPTModel`, and validation perplexity falls. It is not a substitute for the NeMo 2.0 recipes, which
need GPUs: no Megatron optimizer, no pipeline schedules, no parallelism, no checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import time
from pathlib import Path

import numpy as np
import torch
from megatron.core import parallel_state
from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
from megatron.core.datasets.indexed_dataset import IndexedDataset
from megatron.core.datasets.megatron_tokenizer import MegatronLegacyTokenizer
from megatron.core.models.gpt import GPTModel
from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_local_spec
from megatron.core.tensor_parallel import model_parallel_cuda_manual_seed
from megatron.core.transformer import TransformerConfig

from canto_nemo.common.outputs import prepare_output_dir

__all__ = ["export_hf", "smoke_train"]
ROTARY_BASE = 10_000


class PretokenizedTokenizer(MegatronLegacyTokenizer):
    """What GPTDataset asks of a tokenizer (eod, vocab size, an identity for its cache hash) when data is
    already token ids. It cannot tokenize text."""

    def __init__(self, vocab_size: int, eod_id: int):
        super().__init__(vocab_size=vocab_size, eod_id=eod_id)
        self._vocab_size = vocab_size
        self._eod = eod_id

    def tokenize(self, text: str) -> np.ndarray:
        raise NotImplementedError("the data is pre-tokenized; this tokenizer only knows vocab_size and eod")

    @property
    def vocab(self):
        raise NotImplementedError("the data is pre-tokenized")

    @property
    def inv_vocab(self):
        raise NotImplementedError("the data is pre-tokenized")

    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def eod(self) -> int:
        return self._eod


def _check_dataset(prefix: str, vocab_size: int, seq_length: int) -> None:
    for path in (prefix + ".bin", prefix + ".idx"):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Megatron indexed dataset file not found: {path}")
    index = IndexedDataset(prefix)
    n_tokens = int(index.sequence_lengths.sum(dtype=np.int64))
    # GPTDataset draws seq_length + 1 tokens per sample (inputs and labels shifted by one).
    if n_tokens < seq_length + 1:
        raise ValueError(
            f"{prefix}: {n_tokens} tokens, too few for one sequence of {seq_length} tokens (needs {seq_length + 1})"
        )
    tokens = np.memmap(prefix + ".bin", dtype=index.index.dtype, mode="r")
    max_id = int(tokens.max())
    del tokens, index
    if max_id >= vocab_size:
        raise ValueError(f"{prefix}: largest token id {max_id} does not fit vocab_size {vocab_size}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _cpu_current_device():
    """RoPE (and the attention code around it) asks torch.cuda.current_device() for its device; answer 'cpu'."""
    original = torch.cuda.current_device
    torch.cuda.current_device = lambda: "cpu"
    try:
        yield
    finally:
        torch.cuda.current_device = original


@contextlib.contextmanager
def _single_process_group(backend: str = "gloo"):
    """A world-size-1 process group (gloo on CPU; NCCL for CUDA tensors) and Megatron's model-parallel state, torn
    down again on exit."""
    if torch.distributed.is_initialized():
        raise RuntimeError("smoke_train needs its own process group; one is already initialized")
    torch.distributed.init_process_group(
        backend=backend, init_method=f"tcp://127.0.0.1:{_free_port()}", world_size=1, rank=0
    )
    try:
        parallel_state.initialize_model_parallel(1, 1)
        yield
    finally:
        parallel_state.destroy_model_parallel()
        torch.distributed.destroy_process_group()


def _build_datasets(
    train_prefix, valid_prefix, vocab_size, eod_id, cache_dir, seq_length, seed, n_train, n_valid
) -> tuple[GPTDataset, GPTDataset]:
    config = GPTDatasetConfig(
        random_seed=seed,
        sequence_length=seq_length,
        blend_per_split=[([train_prefix], None), ([valid_prefix], None), None],
        path_to_cache=str(cache_dir),
        tokenizer=PretokenizedTokenizer(vocab_size, eod_id),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
    )
    train, valid, _ = BlendedMegatronDatasetBuilder(GPTDataset, [n_train, n_valid, None], lambda: True, config).build()
    return train, valid


def _build_model(vocab_size, seq_length, num_layers, hidden_size, num_attention_heads, *,
                 ffn_hidden_size: int | None = None, num_query_groups: int | None = None,
                 dtype: torch.dtype = torch.float32, on_cpu: bool = True) -> GPTModel:
    """A Llama-shaped GPT (RMSNorm, SwiGLU, RoPE, no biases, tied embeddings), so that NeMo's own Llama export
    transforms apply to it (`export_hf`). The defaults are the CPU smoke run's; the GPU check
    (`benchmarks/gpu_check.py`) builds the 1B recipe's shape in bf16 on CUDA with the same function."""
    config = TransformerConfig(
        num_layers=num_layers,
        hidden_size=hidden_size,
        num_attention_heads=num_attention_heads,
        num_query_groups=num_query_groups,
        ffn_hidden_size=ffn_hidden_size or 4 * hidden_size,
        normalization="RMSNorm",
        gated_linear_unit=True,
        activation_func=torch.nn.functional.silu,
        add_bias_linear=False,
        use_cpu_initialization=on_cpu,
        params_dtype=dtype,
        pipeline_dtype=dtype,
        bf16=dtype == torch.bfloat16,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        bias_activation_fusion=False,
        bias_dropout_fusion=False,
        masked_softmax_fusion=False,
        apply_rope_fusion=False,
        gradient_accumulation_fusion=False,
        persist_layer_norm=False,
        cross_entropy_loss_fusion=False,
    )
    return GPTModel(
        config=config,
        transformer_layer_spec=get_gpt_layer_local_spec(normalization="RMSNorm"),
        vocab_size=vocab_size,
        max_sequence_length=seq_length,
        share_embeddings_and_output_weights=True,
        position_embedding_type="rope",
        rotary_base=ROTARY_BASE,
    )


def export_hf(model: GPTModel, tokenizer_dir: str, output: Path) -> Path:
    """The megatron-core model as a Hugging Face Llama folder (with the tokenizer), through NeMo's own Llama export:
    its state transforms (`TransformFns.split_qkv`, `split_fc1`, `prune_padding`) and `io.apply_transforms`. The
    key map is NeMo's HFLlamaExporter's, spelled for megatron-core's local layer spec (its norms are modules of
    their own, where the TransformerEngine spec fuses them into the linear layers: NeMo's Llama 4 export spells them
    the same way)."""
    import shutil

    from nemo.lightning import io
    from nemo.lightning.io.state import TransformFns
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    c = model.config
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    target = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=c.hidden_size, intermediate_size=c.ffn_hidden_size,
        num_hidden_layers=c.num_layers, num_attention_heads=c.num_attention_heads,
        num_key_value_heads=c.num_query_groups or c.num_attention_heads, head_dim=c.kv_channels,
        max_position_embeddings=model.max_sequence_length, rope_theta=ROTARY_BASE,
        rms_norm_eps=c.layernorm_epsilon, tie_word_embeddings=False,  # tied after the transfer (below)
        hidden_act="silu", attention_bias=False, mlp_bias=False, bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, dtype="float32"))
    mapping = {
        "decoder.layers.*.self_attention.linear_proj.weight": "model.layers.*.self_attn.o_proj.weight",
        "decoder.layers.*.mlp.linear_fc2.weight": "model.layers.*.mlp.down_proj.weight",
        "decoder.layers.*.input_layernorm.weight": "model.layers.*.input_layernorm.weight",
        "decoder.layers.*.pre_mlp_layernorm.weight": "model.layers.*.post_attention_layernorm.weight",
        "decoder.final_layernorm.weight": "model.norm.weight",
    }
    transforms = [
        io.state_transform(source_key="decoder.layers.*.self_attention.linear_qkv.weight",
                           target_key=tuple(f"model.layers.*.self_attn.{x}_proj.weight" for x in "qkv"),
                           fn=TransformFns.split_qkv),
        io.state_transform(source_key="decoder.layers.*.mlp.linear_fc1.weight",
                           target_key=("model.layers.*.mlp.gate_proj.weight", "model.layers.*.mlp.up_proj.weight"),
                           fn=TransformFns.split_fc1),
        io.state_transform(source_key="embedding.word_embeddings.weight", target_key="model.embed_tokens.weight",
                           fn=TransformFns.prune_padding),
    ]
    # The megatron model ties its output layer to the embedding: so does the Hugging Face one, once filled.
    io.apply_transforms(model, target, mapping=mapping, transforms=transforms,
                        state_dict_ignored_entries=["lm_head.weight"])
    target.config.tie_word_embeddings = True
    target.tie_weights()
    output.mkdir(parents=True, exist_ok=True)
    target.save_pretrained(output)
    # save_pretrained writes every file of the tokenizer, the chat template too (transformers keeps it in a file of
    # its own, chat_template.jinja: a list of names to copy missed it, and chat requests then found no template).
    tokenizer.save_pretrained(output)
    if (Path(tokenizer_dir) / "canto_tokenizer.json").is_file():
        shutil.copy(Path(tokenizer_dir) / "canto_tokenizer.json", output / "canto_tokenizer.json")
    return output


@torch.no_grad()
def _export_difference(model: GPTModel, hf_dir: Path, batch: dict) -> float:
    """Largest difference between the megatron-core model's logits and the exported model's, on one batch (over
    the tokenizer's real vocabulary, without Megatron's padding rows)."""
    from transformers import AutoModelForCausalLM

    hf = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    model.eval()
    ours = model(input_ids=batch["tokens"], position_ids=batch["position_ids"], attention_mask=batch["attention_mask"])
    model.train()
    theirs = hf(input_ids=batch["tokens"]).logits
    return float((ours[..., : theirs.shape[-1]] - theirs).abs().max())


def _batch_loss(model: GPTModel, batch: dict) -> torch.Tensor:
    per_token = model(
        input_ids=batch["tokens"],
        position_ids=batch["position_ids"],
        attention_mask=batch["attention_mask"],
        labels=batch["labels"],
    )
    mask = batch["loss_mask"].float()
    return (per_token.float() * mask).sum() / mask.sum().clamp(min=1.0)


@torch.no_grad()
def _valid_ppl(model: GPTModel, batches: list[dict]) -> float:
    model.eval()
    mean_loss = sum(_batch_loss(model, b).item() for b in batches) / len(batches)
    model.train()
    return math.exp(mean_loss)


def _lr_lambda(steps: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))  # cosine down to 10%

    return factor


def smoke_train(
    train_prefix: str,
    valid_prefix: str,
    vocab_size: int,
    eod_id: int,
    output_dir: str,
    *,
    steps: int = 300,
    seq_length: int = 128,
    micro_batch_size: int = 8,
    num_layers: int = 2,
    hidden_size: int = 128,
    num_attention_heads: int = 4,
    lr: float = 3e-3,
    seed: int = 1234,
    eval_batches: int = 8,
    log_every: int = 25,
    tokenizer: str | None = None,
    overwrite: bool = False,
    progress=print,
) -> dict:
    """Train a tiny GPTModel on CPU for `steps` micro-batches; return (and write to output_dir/smoke_train.json)
    the first and last training loss, validation perplexity before and after, and throughput. With the `tokenizer`
    folder, the model before and after training is also written as Hugging Face folders (DIR/hf_initial, DIR/hf)
    that transformers, lm-eval and `canto-nemo serve` load, and the export is checked against the model's logits."""
    if steps < 1 or eval_batches < 1 or log_every < 1:
        raise ValueError("steps, eval_batches and log_every must be at least 1")
    if not 0 <= eod_id < vocab_size:
        raise ValueError(f"eod_id {eod_id} is outside the vocabulary (vocab_size {vocab_size})")
    for prefix in (train_prefix, valid_prefix):
        _check_dataset(prefix, vocab_size, seq_length)
    out = prepare_output_dir(output_dir, overwrite)
    started = time.perf_counter()

    # fork_rng: seeding here must not change the caller's global torch RNG state.
    with torch.random.fork_rng(devices=[]), _cpu_current_device(), _single_process_group():
        torch.manual_seed(seed)
        model_parallel_cuda_manual_seed(seed, inference_rng_tracker=True, force_reset_rng=True)
        train_ds, valid_ds = _build_datasets(
            train_prefix,
            valid_prefix,
            vocab_size,
            eod_id,
            out / "cache",
            seq_length,
            seed,
            steps * micro_batch_size,
            eval_batches * micro_batch_size,
        )
        # GPTDataset already shuffles with random_seed, so plain sequential loading is deterministic.
        train_loader = torch.utils.data.DataLoader(train_ds, batch_size=micro_batch_size, num_workers=0)
        valid_loader = torch.utils.data.DataLoader(valid_ds, batch_size=micro_batch_size, num_workers=0)
        valid_batches = [b for _, b in zip(range(eval_batches), valid_loader, strict=False)]

        model = _build_model(vocab_size, seq_length, num_layers, hidden_size, num_attention_heads)
        n_params = sum(p.numel() for p in model.parameters())
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.1)
        warmup = max(1, min(100, steps // 10))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(steps, warmup))

        ppl_before = _valid_ppl(model, valid_batches)
        progress(f"step 0: valid ppl {ppl_before:.1f}, {n_params:,} parameters")
        if tokenizer is not None:
            export_hf(model, tokenizer, out / "hf_initial")

        losses: list[float] = []
        train_seconds = 0.0
        window_start = time.perf_counter()
        model.train()
        for step, batch in zip(range(1, steps + 1), train_loader, strict=False):
            loss = _batch_loss(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            if step % log_every == 0 or step == steps:
                elapsed = time.perf_counter() - window_start
                train_seconds += elapsed
                window = losses[-((step - 1) % log_every + 1) :]
                progress(
                    f"step {step}/{steps}: loss {sum(window) / len(window):.3f}, "
                    f"{len(window) * micro_batch_size * seq_length / elapsed:,.0f} tokens/s"
                )
                window_start = time.perf_counter()
        if len(losses) < steps:
            raise RuntimeError(f"the training dataset gave {len(losses)} batches, {steps} were asked for")

        ppl_after = _valid_ppl(model, valid_batches)
        progress(f"step {steps}: valid ppl {ppl_after:.1f} (was {ppl_before:.1f})")
        export_difference = None
        if tokenizer is not None:
            export_hf(model, tokenizer, out / "hf")
            export_difference = _export_difference(model, out / "hf", valid_batches[0])
            progress(f"exported {out / 'hf'} (and hf_initial): logits within {export_difference:.2e} of the model's")

    last_window = losses[-((steps - 1) % log_every + 1) :]
    result = {
        "steps": steps,
        "seq_length": seq_length,
        "micro_batch_size": micro_batch_size,
        "parameters": n_params,
        "train_loss_first": losses[0],
        "train_loss_last": sum(last_window) / len(last_window),
        "valid_ppl_before": ppl_before,
        "valid_ppl_after": ppl_after,
        "tokens_per_second": steps * micro_batch_size * seq_length / train_seconds,
        "seconds": time.perf_counter() - started,
        "hf": str(out / "hf") if tokenizer is not None else None,
        "hf_export_max_logit_diff": export_difference,
    }
    (out / "smoke_train.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def from_megatron_data(data: str, output: str, **kwargs) -> dict:
    """smoke_train on what `canto-nemo megatron-data output=PREFIX` wrote (PREFIX_manifest.json names the rest)."""
    manifest_path = Path(f"{data}_manifest.json")
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: data= is the output= prefix given to megatron-data")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    # The tokenizer the data was written with is the exported model's, unless tokenizer= names another folder.
    written_with = manifest["tokenizer"] if Path(manifest["tokenizer"]).is_dir() else None
    tokenizer = kwargs.pop("tokenizer", None) or written_with
    return smoke_train(manifest["prefixes"]["train"], manifest["prefixes"]["validation"],
                       manifest["padded_vocab_size"], manifest["eod_id"], output, tokenizer=tokenizer, **kwargs)

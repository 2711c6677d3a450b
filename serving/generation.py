"""Text generation with transformers for the server: one sequence at a time, token by token, as UTF-8 text.

A Han character is three or four bytes of UTF-8, and a byte-level tokenizer (Qwen, Llama 3, GPT-2) or one with byte
fallback (SentencePiece) often spends several tokens on one character. `tokenizer.decode` of such a token alone gives
U+FFFD. Here every token is its bytes (the tokenizer's own byte alphabet, inverted), and the answer is those bytes
through an incremental UTF-8 decoder: a character comes out once its last byte has, never half of it. Bytes that can
never become a character (a random model emits them; a trained one seldom) are dropped, not shown as U+FFFD. Stop
strings are held back the same way: text that could be the start of one waits for the next token.

The streamed and the whole answer are the same text by construction: both are the concatenation of the steps that
`Engine.generate` yields.
"""

from __future__ import annotations

import codecs
import json
import random
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import torch

_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")
_SPM_SPACE = "\u2581"  # SentencePiece's word boundary


@dataclass(frozen=True)
class Piece:
    """What one token id stands for: the bytes it adds to an answer, how it reads on its own (OpenAI's convention
    for partial characters: "bytes:\\xe6\\x9c"), and whether it is a special token (never part of an answer)."""

    data: bytes
    shown: str
    special: bool


def _decoder_kinds(tokenizer) -> set[str]:
    """The types of the fast tokenizer's decoder and of its parts (a Sequence decoder has several)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return set()
    kinds, todo = set(), [json.loads(backend.to_str()).get("decoder") or {}]
    while todo:
        node = todo.pop()
        kinds.add(node.get("type"))
        todo += node.get("decoders") or []
    return kinds


def token_pieces(tokenizer, size: int) -> list[Piece]:
    """The Piece of every id below `size` (the model's vocabulary, which may be padded past the tokenizer's)."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode  # here in transformers 4 and 5 alike

    kinds = _decoder_kinds(tokenizer)
    byte_of = {char: byte for byte, char in bytes_to_unicode().items()}
    added = tokenizer.added_tokens_decoder
    known = len(tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(list(range(min(size, known))))
    pieces = []
    for token_id in range(size):
        if token_id in added:
            special = added[token_id]
            data = b"" if special.special else special.content.encode()
            pieces.append(Piece(data, special.content, special.special))
            continue
        token = tokens[token_id] if token_id < known else None
        if token is None:  # padding rows of the embedding: no text
            pieces.append(Piece(b"", "", True))
            continue
        if "ByteLevel" in kinds and all(c in byte_of for c in token):
            data = bytes(byte_of[c] for c in token)
        elif "ByteFallback" in kinds and (match := _BYTE_TOKEN.fullmatch(token)):
            data = bytes([int(match.group(1), 16)])
        elif kinds & {"Metaspace", "ByteFallback", "Replace"}:
            data = token.replace(_SPM_SPACE, " ").encode()
        else:  # a tokenizer without byte tokens never splits a character
            data = tokenizer.decode([token_id]).encode()
        try:
            shown = data.decode()
        except UnicodeDecodeError:
            shown = "bytes:" + "".join(f"\\x{b:02x}" for b in data)
        pieces.append(Piece(data, shown, False))
    return pieces


class StopText:
    """Text on its way out that is cut at the first stop string; a tail that could begin one is held back."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.held = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """The text that may go out now, and whether a stop string was reached."""
        self.held += text
        hits = [i for i in (self.held.find(s) for s in self.stops) if i >= 0]
        if hits:
            out, self.held = self.held[:min(hits)], ""
            return out, True
        keep = max((k for s in self.stops for k in range(1, min(len(s), len(self.held) + 1))
                    if self.held.endswith(s[:k])), default=0)
        out, self.held = self.held[:len(self.held) - keep], self.held[len(self.held) - keep:]
        return out, False

    def flush(self) -> str:
        out, self.held = self.held, ""
        return out


@dataclass(frozen=True)
class Sampling:
    """How to pick tokens and when to stop. temperature 0: greedy. top_k 0 or less: no top-k cut."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    stop_ids: frozenset[int] = frozenset()
    ignore_eos: bool = False
    logprobs: int | None = None  # None: no logprobs; k: the chosen token's and the k likeliest


@dataclass(frozen=True)
class Step:
    """One token: the text it lets out (often "" while a character or a possible stop string is incomplete), its
    log-probability under the model (None for the first prompt token, or when not asked), the likeliest alternatives,
    and why the answer ends here (None while it goes on). `prompt` steps are the prompt's own tokens (echo)."""

    text: str
    token: int
    logprob: float | None = None
    top: tuple[tuple[int, float], ...] | None = None
    finish_reason: str | None = None
    prompt: bool = False


@dataclass
class Counters:
    """What the engine has done, for /health; the worker threads add to it at once."""

    generated_tokens: int = 0
    finished: int = 0
    cancelled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **amounts: int) -> None:
        with self.lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Engine:
    """A Hugging Face causal LM folder, loaded once, generating for one sequence per call (calls may run in
    several threads at once: each has its own cache and random generator)."""

    def __init__(self, folder: str, device: str = "auto") -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

        self.device = pick_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        on_gpu = self.device.type == "cuda"
        dtype = torch.bfloat16 if on_gpu and torch.cuda.is_bf16_supported() else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(self.device).eval()
        config = self.model.config
        self.context_length = int(getattr(config, "max_position_embeddings", None) or 2048)
        vocab = max(self.model.get_output_embeddings().weight.shape[0], len(self.tokenizer))
        self.pieces = token_pieces(self.tokenizer, vocab)
        try:
            eos = GenerationConfig.from_pretrained(folder).eos_token_id
        except OSError:
            eos = None
        eos = eos if isinstance(eos, list) else [eos]
        self.eos_ids = frozenset(i for i in [*eos, self.tokenizer.eos_token_id, config.eos_token_id] if i is not None)

    @property
    def chat_template(self) -> str | None:
        return self.tokenizer.chat_template

    @cached_property
    def end_of_turn(self) -> frozenset[int]:
        """The special token the chat template closes an assistant turn with (<|im_end|>, <|eot_id|>, ...)."""
        marker = "\x00canto-nemo\x00"
        try:
            text = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": "x"}, {"role": "assistant", "content": marker}], tokenize=False)
        except Exception:  # a template that refuses this probe: the end-of-sequence tokens still end an answer
            return frozenset()
        after = self.tokenizer(text.rsplit(marker, 1)[-1], add_special_tokens=False).input_ids
        return frozenset(after[:1]) if after and self.pieces[after[0]].special else frozenset()

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=True).input_ids

    def chat_prompt(self, messages: list[dict]) -> list[int]:
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def generate(self, ids: list[int], sampling: Sampling, cancel: threading.Event, echo: bool = False,
                 counters: Counters | None = None) -> Iterator[Step]:
        """The steps of one answer to `ids` (first the prompt's own, with echo), until a stop, max_tokens, the end of
        the context, or `cancel` (then nothing more is yielded)."""
        counters = counters or Counters()
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        stop_text = StopText(sampling.stop)
        stop_ids = sampling.stop_ids | (frozenset() if sampling.ignore_eos else self.eos_ids)
        generator = torch.Generator(self.device).manual_seed(
            sampling.seed if sampling.seed is not None else random.getrandbits(63))
        k = sampling.logprobs
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([ids], device=self.device), use_cache=True,
                             logits_to_keep=0 if echo else 1)
            past, logits = out.past_key_values, out.logits[0]
            if echo:
                yield from self._prompt_steps(ids, logits[:-1], k)
            logits = logits[-1].float()
            room = min(sampling.max_tokens, self.context_length - len(ids))
            for n in range(1, room + 1):
                if cancel.is_set():
                    counters.add(cancelled=1, generated_tokens=n - 1)
                    return
                token = _choose(logits, sampling, generator)
                logprob = top = None
                if k is not None:
                    scores = torch.log_softmax(logits, dim=-1)
                    logprob, top = float(scores[token]), _top(scores, k)
                text, stopped = stop_text.feed(utf8.decode(self.pieces[token].data))
                finish = "stop" if stopped or token in stop_ids else "length" if n == room else None
                if finish and not stopped:
                    text += stop_text.feed(utf8.decode(b"", final=True))[0] + stop_text.flush()
                yield Step(text, token, logprob, top, finish)
                if finish:
                    counters.add(finished=1, generated_tokens=n)
                    return
                out = self.model(input_ids=torch.tensor([[token]], device=self.device), past_key_values=past,
                                 use_cache=True)
                past, logits = out.past_key_values, out.logits[0, -1].float()
            counters.add(finished=1)  # max_tokens 0: the prompt alone

    def _prompt_steps(self, ids: list[int], logits: torch.Tensor, k: int | None) -> Iterator[Step]:
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="ignore")
        chunk = 256  # rows of log-softmax at a time: a long prompt times a large vocabulary is gigabytes at once
        for start in range(0, len(ids), chunk):
            rows = range(start, min(start + chunk, len(ids)))
            scores = torch.log_softmax(logits[max(start - 1, 0):rows[-1]].float(), dim=-1) if k is not None else None
            for i in rows:
                piece = self.pieces[ids[i]]
                text = utf8.decode(piece.data if piece.data else piece.shown.encode(), final=i == len(ids) - 1)
                if scores is None or i == 0:
                    yield Step(text, ids[i], prompt=True)
                    continue
                row = scores[i - 1 - max(start - 1, 0)]
                yield Step(text, ids[i], float(row[ids[i]]), _top(row, k), prompt=True)


def _top(scores: torch.Tensor, k: int) -> tuple[tuple[int, float], ...]:
    if not k:
        return ()
    values, indices = torch.topk(scores, k)
    return tuple(zip(indices.tolist(), values.tolist(), strict=True))


def _choose(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator) -> int:
    if sampling.temperature == 0:
        return int(torch.argmax(logits))
    scaled = logits / sampling.temperature
    if 0 < sampling.top_k < scaled.shape[-1]:
        cutoff = torch.topk(scaled, sampling.top_k).values[-1]
        scaled = scaled.masked_fill(scaled < cutoff, float("-inf"))
    if sampling.top_p < 1:
        ordered, order = torch.sort(scaled, descending=True)
        probs = torch.softmax(ordered, dim=-1)
        # keep the smallest set whose mass reaches top_p (the likeliest token always stays)
        drop = torch.cumsum(probs, dim=-1) - probs > sampling.top_p
        scaled = scaled.scatter(0, order, ordered.masked_fill(drop, float("-inf")))
    return int(torch.multinomial(torch.softmax(scaled, dim=-1), 1, generator=generator))

"""`canto-nemo serve` under load on loopback: streaming clients against the real server (the CLI, in its own process),
next to the same generations done by a bare transformers loop in this process, then an overload burst.

The model is a random Qwen2 (the project's byte-level BPE trained on the LIHKG posts in ../shared/data/lihkg, a
Cantonese chat template) of a size a CPU runs in seconds: what is measured is the server, not the model's quality.
Every generation is greedy with a fixed length (ignore_eos / min_new_tokens), so both sides produce the same number
of tokens for the same prompts.

Runs, one after another:
1. without a server, one prompt at a time: transformers' `model.generate` (time to first token from a streamer), and
   a bare greedy loop over the model's forward with its KV cache, which is what the server runs per request; both
   before and after the server's runs, the faster time kept;
2. server, 1 client: the same prompts, streamed one at a time; its ratio to the bare forward loop is the server's
   overhead (HTTP, JSON, server-sent events, the worker thread, incremental UTF-8);
3. server, N clients: N concurrent streaming clients, R requests each (queueing shows in the time to first token);
4. overload: a burst of more streams than slots plus queue at once; the surplus gets 503 with Retry-After, and after
   waiting that long a new burst that fits is served in full (recovery).

    .venv/bin/python benchmarks/serve.py [--clients 4] [--requests 3] [--max-tokens 64] [--hidden 384 --layers 6]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
LIHKG = REPO.parent / "shared" / "data" / "lihkg" / "test.tsv"
PROMPTS = ["我聽朝要submit個report，點寫好？", "今晚想食好嘢，銅鑼灣有冇啲抵食又唔使book位嘅餐廳？",
           "用廣東話解釋下咩係machine learning，要簡單啲。", "點樣同老細講我下個禮拜想WFH兩日？",
           "香港邊度行山最靚？我平時好少做運動㗎。", "部電腦成日hang機，係咪要format？"]


def build_model(folder: Path, hidden: int, layers: int) -> Path:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from canto_nemo.recipes import tokenizer

    csv.field_size_limit(sys.maxsize)
    with LIHKG.open(encoding="utf-8") as f:
        posts = [row["text_a"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    corpus = folder.parent / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in posts), encoding="utf-8")
    info = tokenizer.train(str(corpus), str(folder), vocab_size=2000, progress=lambda s: None)
    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=info["padded_vocab_size"], hidden_size=hidden, intermediate_size=hidden * 3,
                         num_hidden_layers=layers, num_attention_heads=hidden // 64, num_key_value_heads=2,
                         max_position_embeddings=2048, tie_word_embeddings=True, eos_token_id=info["eod_id"],
                         bos_token_id=info["eod_id"], pad_token_id=info["eod_id"])
    Qwen2ForCausalLM(config).save_pretrained(folder)
    return folder


@dataclass
class Result:
    ttft: float | None = None  # seconds to the first token (None: failed)
    seconds: float = 0.0
    tokens: int = 0
    status: int = 200
    retry_after: str | None = None


def summary(name: str, results: list[Result], wall: float) -> dict:
    done = [r for r in results if r.status == 200 and r.ttft is not None]
    ttfts = sorted(r.ttft for r in done)

    def pct(q: float) -> float | None:
        return ttfts[min(len(ttfts) - 1, round(q * (len(ttfts) - 1)))] if ttfts else None

    tokens = sum(r.tokens for r in done)
    return {"run": name, "requests": len(results), "completed": len(done), "errors": len(results) - len(done),
            "503": sum(r.status == 503 for r in results), "ttft_p50": pct(0.5), "ttft_p95": pct(0.95),
            "tokens": tokens, "tokens_per_s": tokens / wall if wall else 0.0,
            "per_stream_tokens_per_s": statistics.mean((r.tokens - 1) / (r.seconds - r.ttft) for r in done
                                                       if r.seconds > r.ttft) if done else 0.0,
            "wall_s": wall}


# ----------------------------------------------------------------------------------------------------- the server


async def stream_once(client: httpx.AsyncClient, url: str, model: str, prompt: str, max_tokens: int) -> Result:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
            "temperature": 0, "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    result = Result()
    try:
        async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as response:
            result.status = response.status_code
            if response.status_code != 200:
                result.retry_after = response.headers.get("retry-after")
                await response.aread()
                return result
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    result.tokens = chunk["usage"]["completion_tokens"]
                elif result.ttft is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    result.ttft = time.perf_counter() - start
    except httpx.HTTPError:
        result.status = 0
    result.seconds = time.perf_counter() - start
    if result.ttft is None:  # answered, but every token was held (bytes of no character): the end is the first
        result.ttft = result.seconds
    return result


async def clients(url: str, model: str, n: int, requests: int, max_tokens: int, timeout: float) -> tuple[list, float]:
    async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=n + 8)) as client:
        async def one(i: int) -> list[Result]:
            return [await stream_once(client, url, model, PROMPTS[(i + k) % len(PROMPTS)], max_tokens)
                    for k in range(requests)]

        start = time.perf_counter()
        runs = await asyncio.gather(*(one(i) for i in range(n)))
        return [r for run in runs for r in run], time.perf_counter() - start


async def burst(url: str, model: str, n: int, max_tokens: int, timeout: float) -> tuple[list, float]:
    async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=n + 8)) as client:
        start = time.perf_counter()
        results = await asyncio.gather(*(stream_once(client, url, model, PROMPTS[i % len(PROMPTS)], max_tokens)
                                         for i in range(n)))
        return list(results), time.perf_counter() - start


def start_server(folder: Path, port: int, max_concurrent: int, queue_size: int) -> subprocess.Popen:
    cli = str(Path(sys.executable).parent / "canto-nemo")
    process = subprocess.Popen([cli, "serve", f"model={folder}", f"port={port}", f"max_concurrent={max_concurrent}",
                                f"queue_size={queue_size}", "device=cpu"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    process.kill()
    raise RuntimeError("the server did not come up in 180 s")


# ------------------------------------------------------------------------------------------------- the bare loop


def bare_loop(folder: Path, prompts: list[str], max_tokens: int, kind: str) -> tuple[list[Result], float]:
    """The generations without a server, one at a time: `model.generate` (kind "generate", with a streamer for the
    first token) or a plain greedy loop over the model's forward with its KV cache (kind "forward", what the server
    runs per request)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.generation.streamers import BaseStreamer

    class FirstToken(BaseStreamer):
        def __init__(self) -> None:
            self.calls, self.first = 0, None

        def put(self, value) -> None:  # the first call is the prompt, the second the first new token
            self.calls += 1
            if self.calls == 2:
                self.first = time.perf_counter()

        def end(self) -> None:
            pass

    def generate(ids: torch.Tensor) -> tuple[float, int]:
        streamer = FirstToken()
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_tokens,
                             min_new_tokens=max_tokens, do_sample=False, streamer=streamer,
                             pad_token_id=tok.pad_token_id)
        return streamer.first, out.shape[1] - ids.shape[1]

    def forward(ids: torch.Tensor) -> tuple[float, int]:
        out = model(input_ids=ids, use_cache=True)
        first = None
        for n in range(max_tokens):
            token = out.logits[0, -1].argmax().view(1, 1)
            first = first or time.perf_counter()
            if n < max_tokens - 1:
                out = model(input_ids=token, past_key_values=out.past_key_values, use_cache=True)
        return first, max_tokens

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    run = generate if kind == "generate" else forward
    results, wall = [], 0.0
    for warm, batch in ((True, prompts[:1]), (False, prompts)):
        start_all = time.perf_counter()
        for prompt in batch:
            ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                          return_tensors="pt")
            start = time.perf_counter()
            with torch.inference_mode():
                first, tokens = run(ids)
            if not warm:
                results.append(Result(first - start, time.perf_counter() - start, tokens))
        wall = time.perf_counter() - start_all
    return results, wall


# ------------------------------------------------------------------------------------------------------ reporting


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def versions() -> str:
    import fastapi
    import torch
    import transformers
    import uvicorn

    return (f"Python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}, "
            f"fastapi {fastapi.__version__}, uvicorn {uvicorn.__version__}, httpx {httpx.__version__}")


def table(rows: list[dict], base: dict) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v * 1000:,.0f}"

    lines = ["| run | requests | completed | errors (503) | TTFT p50 ms | TTFT p95 ms | tokens/s (all) | "
             "decode tokens/s per stream | vs bare forward loop |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = r["tokens_per_s"] / base["tokens_per_s"] if base["tokens_per_s"] else 0
        lines.append(f"| {r['run']} | {r['requests']} | {r['completed']} | {r['errors']} ({r['503']}) | "
                     f"{ms(r['ttft_p50'])} | {ms(r['ttft_p95'])} | {r['tokens_per_s']:,.0f} | "
                     f"{r['per_stream_tokens_per_s']:,.0f} | {ratio:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=3, help="per client")
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--max-concurrent", type=int, default=2)
    parser.add_argument("--queue-size", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=300, help="seconds per request")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    if args.clients > args.max_concurrent + args.queue_size:
        parser.error("--clients must fit in --max-concurrent plus --queue-size (the overload run is separate)")
    started, load_before = time.perf_counter(), os.getloadavg()[0]
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.clients * args.requests)]
    with tempfile.TemporaryDirectory(prefix="serve-bench") as tmp:
        folder = build_model(Path(tmp) / "model", args.hidden, args.layers)
        # before and after the server's runs: the machine may be busier at one time than the other
        bare = {kind: [bare_loop(folder, prompts, args.max_tokens, kind)] for kind in ("generate", "forward")}
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(folder, port, args.max_concurrent, args.queue_size)
        try:
            model = httpx.get(f"{url}/v1/models").json()["data"][0]["id"]
            asyncio.run(clients(url, model, 1, 1, args.max_tokens, args.timeout))  # warm-up
            one, one_wall = asyncio.run(clients(url, model, 1, len(prompts), args.max_tokens, args.timeout))
            many, many_wall = asyncio.run(clients(url, model, args.clients, args.requests, args.max_tokens,
                                                  args.timeout))
            slots = args.max_concurrent + args.queue_size
            over, over_wall = asyncio.run(burst(url, model, 2 * slots, args.max_tokens, args.timeout))
            wait = max((float(r.retry_after) for r in over if r.retry_after), default=1.0)
            time.sleep(wait)
            after, after_wall = asyncio.run(burst(url, model, slots, args.max_tokens, args.timeout))
            served = httpx.get(f"{url}/health").json()["served"]
        finally:
            server.terminate()
            server.wait(timeout=30)
        for kind, runs in bare.items():
            runs.append(bare_loop(folder, prompts, args.max_tokens, kind))
    # the faster of the two times each loop ran: the server's ratio to it is never flattered by a busy moment
    generate, forward = (max((summary(name, *run) for run in bare[kind]), key=lambda r: r["tokens_per_s"])
                         for kind, name in (("generate", "transformers model.generate, sequential"),
                                            ("forward", "bare forward loop with KV cache, sequential")))
    base = forward
    rows = [generate, forward, summary("server, 1 streaming client", one, one_wall),
            summary(f"server, {args.clients} concurrent streaming clients", many, many_wall),
            summary(f"overload: burst of {2 * slots} streams (slots + queue = {slots})", over, over_wall),
            summary(f"recovery: burst of {slots} after Retry-After ({wait:g} s)", after, after_wall)]
    cores = os.cpu_count()
    report = {"model": f"random Qwen2, hidden {args.hidden}, {args.layers} layers, vocabulary 2,000",
              "settings": vars(args) | {"json": str(args.json) if args.json else None}, "versions": versions(),
              "cpu": f"{platform.processor() or platform.machine()}, {cores} cores", "rows": rows,
              "server_counters": served, "seconds": time.perf_counter() - started,
              "load_average_1min": [load_before, os.getloadavg()[0]]}
    print(f"canto-nemo serve on loopback: {report['model']}; {args.max_tokens} tokens per answer, greedy, fixed "
          f"length; server max_concurrent={args.max_concurrent} queue_size={args.queue_size}; {cores} CPU cores\n")
    print(table(rows, base))
    print(f"\n{versions()}\nserver counters after the runs: {served}\n({report['seconds']:.0f} s in all; 1-minute "
          f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, on {cores} cores)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return report


if __name__ == "__main__":
    main()

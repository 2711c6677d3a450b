"""What the server sends back, in OpenAI's wire format: a whole answer, or server-sent events in OpenAI's chunk
format ending with `data: [DONE]`, with logprobs as lm-eval reads them; built from the steps the engine generated."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi.responses import StreamingResponse

from canto_nemo.serving.api import APIError
from canto_nemo.serving.generation import Sampling, Step

END = object()  # the last item a streaming generation puts on its queue
log = logging.getLogger("canto_nemo.serve")


@dataclass
class Choice:
    """One answer being built: its prompt, how it is sampled, and what came out so far."""

    index: int
    ids: list[int]
    sampling: Sampling
    echo: bool = False
    text: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    finish_reason: str | None = None

    @property
    def completion_tokens(self) -> int:
        return sum(not s.prompt for s in self.steps)


def body(head: dict, kind: str, choices: list[Choice], prompt_tokens: int, pieces: list) -> dict:
    """The whole answer of a request that did not stream."""
    completion_tokens = sum(c.completion_tokens for c in choices)
    usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    if kind == "cmpl":
        return {**head, "object": "text_completion", "usage": usage, "choices": [
            {"index": c.index, "text": "".join(c.text), "finish_reason": c.finish_reason,
             "logprobs": _completion_logprobs(pieces, c.steps, 0) if c.sampling.logprobs is not None else None}
            for c in choices]}
    return {**head, "object": "chat.completion", "usage": usage, "choices": [
        {"index": c.index, "message": {"role": "assistant", "content": "".join(c.text)},
         "finish_reason": c.finish_reason,
         "logprobs": _chat_logprobs(pieces, c.steps) if c.sampling.logprobs is not None else None}
        for c in choices]}


async def events(queue: asyncio.Queue, choices: list[Choice], head: dict, kind: str, prompt_tokens: int,
                  usage: bool, pieces: list) -> AsyncIterator[str]:
    """The SSE stream of the choices: a chunk per step that lets text out (per step with logprobs), a last one
    per choice with its finish_reason, usage when asked, then [DONE]."""
    offsets = {c.index: 0 for c in choices}
    finished: set[int] = set()
    if kind == "chatcmpl":
        for c in choices:
            yield _sse({**head, "object": "chat.completion.chunk", "choices": [
                {"index": c.index, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                 "finish_reason": None}]})
    while (item := await queue.get()) is not END:
        if isinstance(item, Exception):
            log.error("generation failed", exc_info=item)
            yield _sse(APIError(500, f"generation failed: {type(item).__name__}", "server_error").body())
            continue
        choice, step = item
        with_logprobs = choice.sampling.logprobs is not None
        if not step.text and not step.finish_reason and not with_logprobs:
            continue
        logprobs = None
        if with_logprobs and kind == "cmpl":
            logprobs = _completion_logprobs(pieces, [step], offsets[choice.index])
        elif with_logprobs and not step.prompt:
            logprobs = _chat_logprobs(pieces, [step])
        offsets[choice.index] += len(step.text)
        if step.finish_reason:
            finished.add(choice.index)
        yield _chunk(head, kind, choice.index, step.text, step.finish_reason, logprobs)
    for c in choices:
        if c.index not in finished and c.finish_reason:  # ended without a token (no room)
            yield _chunk(head, kind, c.index, "", c.finish_reason, None)
    if usage:
        completion_tokens = sum(c.completion_tokens for c in choices)
        yield _sse({**head, "object": "text_completion" if kind == "cmpl" else "chat.completion.chunk",
                    "choices": [], "usage": {"prompt_tokens": prompt_tokens,
                                             "completion_tokens": completion_tokens,
                                             "total_tokens": prompt_tokens + completion_tokens}})
    yield "data: [DONE]\n\n"


def _chunk(head: dict, kind: str, index: int, text: str, finish: str | None, logprobs: dict | None) -> str:
    if kind == "cmpl":
        return _sse({**head, "object": "text_completion", "choices": [
            {"index": index, "text": text, "logprobs": logprobs, "finish_reason": finish}]})
    return _sse({**head, "object": "chat.completion.chunk", "choices": [
        {"index": index, "delta": {"content": text} if text or not finish else {}, "logprobs": logprobs,
         "finish_reason": finish}]})


def _completion_logprobs(pieces: list, steps: list[Step], offset: int) -> dict:
    out: dict[str, list] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
    for s in steps:
        out["tokens"].append(pieces[s.token].shown)
        out["token_logprobs"].append(s.logprob)
        out["top_logprobs"].append(None if s.top is None else {pieces[i].shown: lp for i, lp in s.top})
        out["text_offset"].append(offset)
        offset += len(s.text)
    return out


def _chat_logprobs(pieces: list, steps: list[Step]) -> dict:
    def entry(token: int, logprob: float) -> dict:
        piece = pieces[token]
        return {"token": piece.shown, "logprob": logprob, "bytes": list(piece.data or piece.shown.encode())}

    return {"content": [{**entry(s.token, s.logprob), "top_logprobs": [entry(i, lp) for i, lp in s.top or ()]}
                        for s in steps if not s.prompt]}


class EventStream(StreamingResponse):
    """Server-sent events that run `done` however they end: finished, failed, or the client gone (Starlette then
    cancels the stream, perhaps before its generator ever started, so a `finally` inside that could never run)."""

    def __init__(self, events: AsyncIterator[str], done: Callable[[], None]) -> None:
        super().__init__(events, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.done = done

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.done()


def _sse(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

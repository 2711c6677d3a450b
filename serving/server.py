"""`canto-nemo serve`: an OpenAI-compatible HTTP server for a Hugging Face model folder, or a chat page in front of
another OpenAI-compatible endpoint, with the dialect judge beside every answer.

model=HF_DIR: the model runs here with transformers (CPU, or one GPU when there is one), one sequence per worker
thread so the event loop stays free: GET /v1/models, POST /v1/completions (prompt as text or token ids, one or a list;
logprobs and echo as lm-eval's local-completions scores multiple-choice tasks with), POST /v1/chat/completions (the
model's chat template), stream=true on both as server-sent events in OpenAI's chunk format ending with
`data: [DONE]`, and vLLM's /tokenize, /detokenize and /tokenizer_info, with which lm-eval tokenizes on the server.

endpoint=URL: /v1/* (and the tokenizer routes) are forwarded to URL (e.g. a `vllm serve` on a GPU node), streamed
through as they come.

Both: the chat page at /, POST /v1/dialect {"text"} -> {"label", "score", "share", "simplified_share"} for it, and
GET /health. Safe by default: loopback only unless host= says otherwise; an optional API key (Authorization: Bearer,
401 otherwise; also from $CANTO_NEMO_API_KEY); limits on body size, prompt tokens, max_tokens and concurrent
generations (a bounded queue behind them, then 503 with Retry-After). Every bad request gets a 4xx with OpenAI's error
body {"error": {"message", "type", "param", "code"}}; a client that leaves stops its generation and frees its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException as StarletteHTTPException

from canto_nemo.serving.generation import Counters, Engine, Sampling, Step

STATIC = Path(__file__).parent / "static"
TOKENIZER_ROUTES = ("/tokenize", "/detokenize", "/tokenizer_info")
MAX_CHOICES = 16  # prompts times n in one request: each is a whole generation in the same slot
RETRY_AFTER_S = 1
log = logging.getLogger("canto_nemo.serve")


# ------------------------------------------------------------------------------------------------------------ errors


class APIError(Exception):
    """A request this server refuses, as OpenAI words it."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code
        self.headers = headers

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def _validation_error(err: RequestValidationError) -> APIError:
    errors = err.errors()
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    if first.get("type") == "json_invalid":
        return APIError(400, "We could not parse the JSON body of your request: it is not valid JSON.")
    if not loc:
        return APIError(400, f"Invalid request body: {first.get('msg')}", code="invalid_value")
    if first.get("type") == "extra_forbidden":
        return APIError(400, f"Unrecognized request argument supplied: {'.'.join(loc)}", param=loc[0])
    # A field of several types fails once per type: name the types rather than the first one's complaint.
    kinds = list(dict.fromkeys(str(e["loc"][2]) for e in errors
                               if len(e.get("loc", ())) > 2 and e["loc"][:2] == ("body", loc[0])))
    if len(kinds) > 1 and len(loc) > 1 and loc[1] == kinds[0]:
        return APIError(400, f"Invalid type for '{loc[0]}': expected {' | '.join(kinds)}.", param=loc[0],
                        code="invalid_type")
    return APIError(400, f"Invalid value for '{'.'.join(loc)}': {first.get('msg')}", param=loc[0],
                    code="invalid_value")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def api_error(request: Request, err: APIError) -> JSONResponse:
        return err.response()

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        return _validation_error(err).response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return APIError(err.status_code, str(err.detail), code=None).response()

    @app.exception_handler(Exception)
    async def internal(request: Request, err: Exception) -> JSONResponse:
        log.exception("request %s %s failed", request.method, request.url.path)
        return APIError(500, f"internal error: {type(err).__name__}", "server_error").response()


class Guard:
    """ASGI middleware in front of everything: the API key (before a byte of the body is read) and the body size
    (buffered up to the limit, then replayed to the app; the rest of the connection still reports a disconnect)."""

    def __init__(self, app, api_key: str | None, max_body_bytes: int) -> None:
        self.app, self.api_key, self.max_body_bytes = app, api_key, max_body_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        if self.api_key and (path.startswith("/v1/") or path in TOKENIZER_ROUTES):
            scheme, _, given = headers.get("authorization", "").strip().partition(" ")
            given = given.strip() if scheme.lower() == "bearer" else ""
            if not hmac.compare_digest(given.encode(), self.api_key.encode()):
                message = "Incorrect API key provided." if given else "Missing API key: send Authorization: Bearer KEY."
                refusal = APIError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
                return await refusal.response()(scope, receive, send)
        too_big = APIError(413, f"Request body too large: at most {self.max_body_bytes:,} bytes.",
                           code="request_too_large")
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            return await too_big.response()(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                return await too_big.response()(scope, receive, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, send)


# --------------------------------------------------------------------------------------------------------- requests


class _Strict(BaseModel):
    # Unknown fields, wrong types and NaN are the caller's mistake: say so instead of guessing (no "10" for 10).
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class StreamOptions(_Strict):
    include_usage: bool = False


class _Generate(_Strict):
    model: str
    max_tokens: int | None = Field(None, ge=0)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = -1  # vLLM's extension; 0 or less: off
    n: int = Field(1, ge=1, le=MAX_CHOICES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    ignore_eos: bool = False  # vLLM's extension: fixed-length answers (benchmarks)
    user: str | None = None
    # OpenAI's, not implemented here: accepted at their neutral value, refused otherwise
    frequency_penalty: float = 0
    presence_penalty: float = 0
    logit_bias: dict[str, float] | None = None


class CompletionRequest(_Generate):
    prompt: str | list[str] | list[int] | list[list[int]]
    echo: bool = False
    logprobs: int | None = Field(None, ge=0, le=20)
    best_of: int | None = None
    suffix: str | None = None


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None


class ChatRequest(_Generate):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=0)
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None


class DialectRequest(_Strict):
    text: str = Field(max_length=200_000)


class TokenizeRequest(_Strict):
    model: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    add_special_tokens: bool = True
    add_generation_prompt: bool = True


class DetokenizeRequest(_Strict):
    model: str | None = None
    tokens: list[int]


def _refuse_unsupported(body: _Generate) -> None:
    neutral = {"frequency_penalty": body.frequency_penalty == 0, "presence_penalty": body.presence_penalty == 0,
               "logit_bias": not body.logit_bias}
    if isinstance(body, CompletionRequest):
        neutral |= {"best_of": body.best_of in (None, body.n), "suffix": body.suffix is None}
    if isinstance(body, ChatRequest):
        neutral |= {"response_format": body.response_format in (None, {"type": "text"}), "tools": not body.tools,
                    "tool_choice": body.tool_choice in (None, "none", "auto") and not body.tools}
    for name, fine in neutral.items():
        if not fine:
            raise APIError(400, f"'{name}' is not supported by this server.", param=name, code="unsupported_parameter")


def _stops(stop: str | list[str] | None) -> tuple[str, ...]:
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(stops) > 16 or any(not s or len(s) > 256 for s in stops):
        raise APIError(400, "'stop' takes up to 16 non-empty strings of at most 256 characters.", param="stop")
    return stops


# ---------------------------------------------------------------------------------------------------- the dialect


def dialect_report(text: str, pack: str = "cantonese") -> dict:
    """The pack's judge on `text`: label, score and target-variety share, and the share of its script characters the
    target variety does not write (for Cantonese: Simplified-only characters; None without script characters)."""
    import regex

    from canto_nemo.curator_stages.language_pack import detect, get_pack

    obj = get_pack(pack)
    result = detect(obj, [text])[0]
    share = obj.off_script_share(text) if regex.search(f"[{obj.script_class}]", text) else None
    return {"label": result.label, "score": result.score, "share": result.share, "simplified_share": share}


# --------------------------------------------------------------------------------------------------- admission


class Admission:
    """At most `concurrent` generations at once and `queue` more waiting for a slot; past that, 503 at once."""

    def __init__(self, concurrent: int, queue: int) -> None:
        if concurrent < 1 or queue < 0:
            raise ValueError("max_concurrent must be at least 1 and queue_size at least 0")
        self.concurrent, self.queue = concurrent, queue
        self.semaphore = asyncio.Semaphore(concurrent)
        self.running = self.waiting = 0

    async def enter(self, request: Request) -> bool:
        """Takes a slot; False when the client left while it waited."""
        if self.running + self.waiting >= self.concurrent + self.queue:
            raise APIError(503, f"The server is busy ({self.running} generating, {self.waiting} waiting): retry "
                                f"in {RETRY_AFTER_S} s.", "server_error", code="overloaded",
                           headers={"Retry-After": str(RETRY_AFTER_S)})
        self.waiting += 1
        acquire = asyncio.ensure_future(self.semaphore.acquire())
        try:
            if not await _before_disconnect(request, acquire):
                acquire.cancel()
                return False
        finally:
            self.waiting -= 1
        self.running += 1
        return True

    def leave(self) -> None:
        self.running -= 1
        self.semaphore.release()


async def _disconnected(request: Request) -> None:
    # The body was read already: what the connection says next is that it closed.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _before_disconnect(request: Request, future: asyncio.Future) -> bool:
    """Waits for `future` or for the client to leave; whether `future` finished. The future is left as it is."""
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({future, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    return future.done()


# ---------------------------------------------------------------------------------------------- the model's service


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


_END = object()


class ModelService:
    """The OpenAI routes over one Engine: validation and limits in the event loop, generation in worker threads."""

    def __init__(self, folder: str, device: str, max_prompt_tokens: int, max_tokens_limit: int, max_concurrent: int,
                 queue_size: int) -> None:
        self.engine = Engine(folder, device)
        self.model_id = folder
        self.max_prompt_tokens, self.max_tokens_limit = max_prompt_tokens, max_tokens_limit
        self.admission = Admission(max_concurrent, queue_size)
        self.executor = ThreadPoolExecutor(max_concurrent, thread_name_prefix="generate")
        self.counters = Counters()
        self.requests = 0
        self.in_flight: set[threading.Event] = set()
        self.created = int(time.time())
        if self.engine.chat_template is None:
            log.warning("%s has no chat template: /v1/chat/completions will refuse requests", folder)

    def close(self) -> None:
        for cancel in list(self.in_flight):
            cancel.set()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------------------------------------- checks

    def _check_model(self, model: str | None) -> None:
        if model is not None and model != self.model_id:
            raise APIError(404, f"The model '{model}' does not exist: this server serves '{self.model_id}'.",
                           param="model", code="model_not_found")

    def _prompt_ids(self, prompt: str | list[str] | list[int] | list[list[int]]) -> list[list[int]]:
        if isinstance(prompt, str):
            prompts = [self.engine.encode(prompt)]
        elif prompt and all(isinstance(p, int) for p in prompt):
            prompts = [list(prompt)]
        elif prompt and all(isinstance(p, str) for p in prompt):
            prompts = [self.engine.encode(p) for p in prompt]
        else:
            prompts = [list(p) for p in prompt]
        vocab = len(self.engine.pieces)
        if not prompts or any(not ids for ids in prompts):
            raise APIError(400, "The prompt is empty.", param="prompt")
        if any(not 0 <= i < vocab for ids in prompts for i in ids):
            raise APIError(400, f"Token ids must lie in [0, {vocab}).", param="prompt")
        return prompts

    def _check_lengths(self, prompts: list[list[int]], max_tokens: int, param: str) -> None:
        context = self.engine.context_length
        for ids in prompts:
            if len(ids) > self.max_prompt_tokens:
                raise APIError(400, f"The prompt is {len(ids):,} tokens; this server takes at most "
                                    f"{self.max_prompt_tokens:,}.", param=param, code="context_length_exceeded")
            if len(ids) + max_tokens > context:
                raise APIError(400, f"This model's maximum context length is {context:,} tokens. However, you "
                                    f"requested {len(ids) + max_tokens:,} tokens ({len(ids):,} in the prompt, "
                                    f"{max_tokens:,} for the completion).", param=param,
                               code="context_length_exceeded")
        if max_tokens > self.max_tokens_limit:
            raise APIError(400, f"max_tokens is {max_tokens:,}; this server allows at most "
                                f"{self.max_tokens_limit:,}.", param="max_tokens", code="invalid_value")

    def _choices(self, body: _Generate, prompts: list[list[int]], sampling: Sampling, echo: bool = False
                 ) -> list[Choice]:
        if len(prompts) * body.n > MAX_CHOICES:
            raise APIError(400, f"At most {MAX_CHOICES} answers per request (prompts times n).", param="n")
        return [Choice(i * body.n + j, ids, replace(sampling, seed=None if body.seed is None else body.seed + j),
                       echo) for i, ids in enumerate(prompts) for j in range(body.n)]

    # ----------------------------------------------------------------------------------------------- routes

    def models(self) -> dict:
        return {"object": "list", "data": [{"id": self.model_id, "object": "model", "created": self.created,
                                            "owned_by": "canto-nemo", "max_model_len": self.engine.context_length}]}

    def health(self) -> dict:
        c = self.counters
        return {"status": "ok", "mode": "model", "model": self.model_id, "device": str(self.engine.device),
                "running": self.admission.running, "waiting": self.admission.waiting,
                "limits": {"max_concurrent": self.admission.concurrent, "queue_size": self.admission.queue,
                           "max_prompt_tokens": self.max_prompt_tokens, "max_tokens": self.max_tokens_limit,
                           "context_length": self.engine.context_length},
                "served": {"requests": self.requests, "finished": c.finished, "cancelled": c.cancelled,
                           "generated_tokens": c.generated_tokens}}

    async def completions(self, body: CompletionRequest, request: Request) -> Response:
        self._check_model(body.model)
        _refuse_unsupported(body)
        prompts = self._prompt_ids(body.prompt)
        max_tokens = 16 if body.max_tokens is None else body.max_tokens
        self._check_lengths(prompts, max_tokens, "prompt")
        sampling = Sampling(max_tokens, body.temperature, body.top_p, body.top_k, body.seed, _stops(body.stop),
                            ignore_eos=body.ignore_eos, logprobs=body.logprobs)
        choices = self._choices(body, prompts, sampling, echo=body.echo)
        return await self._answer(request, body, choices, "cmpl", sum(map(len, prompts)))

    async def chat(self, body: ChatRequest, request: Request) -> Response:
        self._check_model(body.model)
        _refuse_unsupported(body)
        if self.engine.chat_template is None:
            raise APIError(400, f"The model at {self.model_id} has no chat template (chat_template in "
                                "tokenizer_config.json, or chat_template.jinja): use /v1/completions, or add one.",
                           param="messages", code="no_chat_template")
        ids = self._chat_ids(body.messages)
        if body.max_tokens is not None and body.max_completion_tokens is not None:
            raise APIError(400, "Give max_tokens or max_completion_tokens, not both.", param="max_tokens")
        max_tokens = body.max_completion_tokens if body.max_tokens is None else body.max_tokens
        if max_tokens is None:
            max_tokens = max(0, min(self.max_tokens_limit, self.engine.context_length - len(ids)))
        self._check_lengths([ids], max_tokens, "messages")
        logprobs = (body.top_logprobs or 0) if body.logprobs else None
        if body.top_logprobs is not None and not body.logprobs:
            raise APIError(400, "top_logprobs needs logprobs=true.", param="top_logprobs")
        sampling = Sampling(max_tokens, body.temperature, body.top_p, body.top_k, body.seed, _stops(body.stop),
                            stop_ids=self.engine.end_of_turn, ignore_eos=body.ignore_eos, logprobs=logprobs)
        return await self._answer(request, body, self._choices(body, [ids], sampling), "chatcmpl", len(ids))

    def _chat_ids(self, messages: list[ChatMessage]) -> list[int]:
        import jinja2

        plain = [{"role": m.role, "content": m.content if isinstance(m.content, str)
                  else "".join(part.text for part in m.content), **({"name": m.name} if m.name else {})}
                 for m in messages]
        try:
            return self.engine.chat_prompt(plain)
        except jinja2.TemplateError as err:
            raise APIError(400, f"The chat template refused the messages: {err}", param="messages") from None

    def tokenize(self, body: TokenizeRequest) -> dict:
        self._check_model(body.model)
        if (body.prompt is None) == (body.messages is None):
            raise APIError(400, "Give prompt or messages.", param="prompt")
        if body.messages is not None:
            if self.engine.chat_template is None:
                raise APIError(400, "The model has no chat template.", param="messages", code="no_chat_template")
            tokens = self._chat_ids(body.messages)
        else:
            tokens = self.engine.tokenizer(body.prompt, add_special_tokens=body.add_special_tokens).input_ids
        return {"count": len(tokens), "max_model_len": self.engine.context_length, "tokens": tokens}

    def detokenize(self, body: DetokenizeRequest) -> dict:
        self._check_model(body.model)
        if any(not 0 <= t < len(self.engine.pieces) for t in body.tokens):
            raise APIError(400, f"Token ids must lie in [0, {len(self.engine.pieces)}).", param="tokens")
        return {"prompt": self.engine.tokenizer.decode(body.tokens)}

    def tokenizer_info(self) -> dict:
        tok = self.engine.tokenizer
        return {"tokenizer_class": type(tok).__name__, "eos_token": tok.eos_token, "bos_token": tok.bos_token,
                "pad_token": tok.pad_token, "chat_template": tok.chat_template,
                "model_max_length": self.engine.context_length}

    # ----------------------------------------------------------------------------------------- generating

    def _work(self, choices: list[Choice], cancel: threading.Event, emit: Callable[[Choice, Step], None]) -> None:
        """In a worker thread: the choices one after another, each step to `emit`."""
        for choice in choices:
            for step in self.engine.generate(choice.ids, choice.sampling, cancel, choice.echo, self.counters):
                choice.steps.append(step)
                choice.text.append(step.text)
                choice.finish_reason = step.finish_reason or choice.finish_reason
                emit(choice, step)
            if cancel.is_set():
                return
            choice.finish_reason = choice.finish_reason or "length"  # no room for a token

    def _launch(self, work: Callable[[], None]) -> asyncio.Future:
        loop = asyncio.get_running_loop()

        def run() -> None:
            try:
                work()
            finally:
                loop.call_soon_threadsafe(self.admission.leave)

        return loop.run_in_executor(self.executor, run)

    async def _answer(self, request: Request, body: _Generate, choices: list[Choice], kind: str,
                      prompt_tokens: int) -> Response:
        if not await self.admission.enter(request):
            return Response(status_code=204)  # nobody is listening any more
        self.requests += 1
        cancel = threading.Event()
        self.in_flight.add(cancel)
        head = {"id": f"{kind}-{uuid.uuid4().hex}", "created": int(time.time()), "model": self.model_id}
        if body.stream:
            queue: asyncio.Queue = asyncio.Queue()
            loop = asyncio.get_running_loop()

            def work() -> None:
                try:
                    self._work(choices, cancel, lambda c, s: loop.call_soon_threadsafe(queue.put_nowait, (c, s)))
                except Exception as err:
                    loop.call_soon_threadsafe(queue.put_nowait, err)
                finally:
                    loop.call_soon_threadsafe(queue.put_nowait, _END)

            self._launch(work)
            usage = body.stream_options is not None and body.stream_options.include_usage
            return EventStream(_events(queue, choices, head, kind, prompt_tokens, usage, self.engine.pieces),
                               partial(self._stop, cancel))
        try:
            done = self._launch(lambda: self._work(choices, cancel, lambda c, s: None))
            if not await _before_disconnect(request, done):
                return Response(status_code=204)
            done.result()
        finally:
            self._stop(cancel)
        return JSONResponse(_body(head, kind, choices, prompt_tokens, self.engine.pieces))

    def _stop(self, cancel: threading.Event) -> None:
        """The request is over (answered, or its client gone): its generation stops, if it still runs."""
        cancel.set()
        self.in_flight.discard(cancel)


# ------------------------------------------------------------------------------------- the wire format
# What the OpenAI API sends back, from the generated steps: module functions, apart from the service that
# schedules the generation.


def _body(head: dict, kind: str, choices: list[Choice], prompt_tokens: int, pieces: list) -> dict:
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


async def _events(queue: asyncio.Queue, choices: list[Choice], head: dict, kind: str, prompt_tokens: int,
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
    while (item := await queue.get()) is not _END:
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


# ------------------------------------------------------------------------------------------------------- the proxy


class Proxy:
    """/v1/* and the tokenizer routes forwarded to another OpenAI-compatible endpoint, streamed through."""

    def __init__(self, endpoint: str, api_key: str | None, endpoint_api_key: str | None) -> None:
        import httpx

        self.base = endpoint.rstrip("/").removesuffix("/v1")
        self.own_key, self.endpoint_api_key = api_key, endpoint_api_key
        # no read timeout: a long answer streams for minutes
        self.client = httpx.AsyncClient(base_url=self.base, timeout=httpx.Timeout(10.0, read=None))

    def _headers(self, request: Request | None) -> dict[str, str]:
        headers = {"accept-encoding": "identity"}
        if request is not None:
            headers |= {k: v for k in ("content-type", "accept") if (v := request.headers.get(k))}
            # the client's key goes on only when this server has none of its own (it is ours, not theirs)
            if not self.own_key and (given := request.headers.get("authorization")):
                headers["authorization"] = given
        if self.endpoint_api_key:
            headers["authorization"] = f"Bearer {self.endpoint_api_key}"
        return headers

    async def forward(self, request: Request) -> Response:
        import httpx

        upstream_request = self.client.build_request(request.method, request.url.path,
                                                     params=request.query_params, headers=self._headers(request),
                                                     content=await request.body())
        try:
            upstream = await self.client.send(upstream_request, stream=True)
        except httpx.HTTPError as err:
            raise APIError(502, f"The endpoint {self.base} did not answer: {type(err).__name__} {err}",
                           "server_error", code="bad_gateway") from None
        keep = ("content-type", "retry-after", "cache-control", "www-authenticate")
        headers = {k: v for k, v in upstream.headers.items() if k.lower() in keep}
        return StreamingResponse(upstream.aiter_bytes(), status_code=upstream.status_code, headers=headers,
                                 background=BackgroundTask(upstream.aclose))

    async def health(self) -> JSONResponse:
        import httpx

        try:
            answer = await self.client.get("/v1/models", headers=self._headers(None), timeout=5.0)
            status = "ok" if answer.is_success else f"endpoint answered {answer.status_code}"
        except httpx.HTTPError as err:
            status = f"endpoint unreachable: {type(err).__name__}"
        return JSONResponse({"status": status, "mode": "proxy", "endpoint": self.base},
                            status_code=200 if status == "ok" else 503)


# ---------------------------------------------------------------------------------------------------------- the app


def build_app(model: str | None = None, endpoint: str | None = None, api_key: str | None = None,
              max_prompt_tokens: int = 4096, max_tokens_limit: int = 1024, max_concurrent: int = 2,
              queue_size: int = 8, device: str = "auto", max_body_bytes: int = 1_000_000,
              endpoint_api_key: str | None = None, pack: str = "cantonese") -> FastAPI:
    """The ASGI app: model=HF_DIR runs the model here; endpoint=URL forwards to another server. `pack`: the language
    pack whose judge answers /v1/dialect (the chat page's language check)."""
    from canto_nemo.curator_stages.language_pack import get_pack

    get_pack(pack)  # an unknown pack fails here, naming the registered ones, not on the first request
    if (model is None) == (endpoint is None):
        raise ValueError("give model=HF_DIR (run a model here) or endpoint=URL (front another server), not both")
    service = proxy = None
    if model is not None:
        if not Path(model, "config.json").is_file():
            raise ValueError(f"{model} is not a Hugging Face model folder (no config.json)")
        service = ModelService(model, device, max_prompt_tokens, max_tokens_limit, max_concurrent, queue_size)
    else:
        proxy = Proxy(endpoint, api_key, endpoint_api_key)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if service is not None:
            service.close()
        if proxy is not None:
            await proxy.client.aclose()

    app = FastAPI(title="canto-nemo serve", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    _install_error_handlers(app)
    app.add_middleware(Guard, api_key=api_key, max_body_bytes=max_body_bytes)
    app.state.service = service

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={
            "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'",
            "Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.post("/v1/dialect")
    def dialect(body: DialectRequest) -> dict:
        return dialect_report(body.text, pack)

    if proxy is not None:
        app.add_api_route("/health", proxy.health, methods=["GET"])
        for path in ("/v1/{path:path}", *TOKENIZER_ROUTES):
            app.add_api_route(path, proxy.forward, methods=["GET", "POST", "DELETE"])
        return app

    @app.get("/health")
    async def health() -> dict:
        return service.health()

    @app.get("/v1/models")
    async def models() -> dict:
        return service.models()

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Response:
        return await service.completions(body, request)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatRequest, request: Request) -> Response:
        return await service.chat(body, request)

    # the tokenizer routes tokenize in the event loop, as the generation routes do: the tokenizer is not shared
    # with a thread
    @app.post("/tokenize")
    async def tokenize(body: TokenizeRequest) -> dict:
        return service.tokenize(body)

    @app.post("/detokenize")
    async def detokenize(body: DetokenizeRequest) -> dict:
        return service.detokenize(body)

    @app.get("/tokenizer_info")
    async def tokenizer_info() -> dict:
        return service.tokenizer_info()

    return app


@contextlib.contextmanager
def serving(app: FastAPI, host: str = "127.0.0.1", port: int = 0, timeout: float = 60) -> Iterator[str]:
    """A real uvicorn server for `app` in a thread of this process, for as long as the block runs; yields its base
    URL (port=0: a free one)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def serve(model: str | None = None, endpoint: str | None = None, host: str = "127.0.0.1", port: int = 8000,
          api_key: str | None = None, max_prompt_tokens: int = 4096, max_tokens_limit: int = 1024,
          max_concurrent: int = 2, queue_size: int = 8, device: str = "auto", max_body_bytes: int = 1_000_000,
          endpoint_api_key: str | None = None, pack: str = "cantonese") -> None:
    """Runs the server until interrupted (see the module docstring)."""
    import uvicorn

    api_key = api_key or os.environ.get("CANTO_NEMO_API_KEY") or None
    app = build_app(model, endpoint, api_key, max_prompt_tokens, max_tokens_limit, max_concurrent, queue_size,
                    device, max_body_bytes, endpoint_api_key, pack)
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        log.warning("listening on %s without an API key: anyone who can reach it can use it (api_key=...)", host)
    what = model if model is not None else f"a front for {endpoint}"
    print(f"canto-nemo serve: {what} at http://{host}:{port} (chat page at /, API at /v1)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)

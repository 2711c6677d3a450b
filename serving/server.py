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

This module holds the routes and the app; beside it: api.py (request bodies, errors, the guard), scheduler.py
(admission and worker threads), wire.py (OpenAI's response and chunk format), generation.py (the model's loop).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask

from canto_nemo.serving.api import (
    MAX_CHOICES,
    TOKENIZER_ROUTES,
    APIError,
    ChatMessage,
    ChatRequest,
    CompletionRequest,
    DetokenizeRequest,
    DialectRequest,
    GenerateRequest,
    Guard,
    TokenizeRequest,
    install_error_handlers,
    refuse_unsupported,
    stops,
)
from canto_nemo.serving.generation import Engine, Sampling
from canto_nemo.serving.scheduler import Scheduler
from canto_nemo.serving.wire import Choice

STATIC = Path(__file__).parent / "static"
log = logging.getLogger("canto_nemo.serve")


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


# ---------------------------------------------------------------------------------------------- the model's service


class ModelService:
    """The OpenAI routes over one Engine: validation and limits in the event loop, generation in worker threads."""

    def __init__(self, folder: str, device: str, max_prompt_tokens: int, max_tokens_limit: int, max_concurrent: int,
                 queue_size: int) -> None:
        self.engine = Engine(folder, device)
        self.model_id = folder
        self.max_prompt_tokens, self.max_tokens_limit = max_prompt_tokens, max_tokens_limit
        self.scheduler = Scheduler(self.engine, max_concurrent, queue_size)
        self.created = int(time.time())
        if self.engine.chat_template is None:
            log.warning("%s has no chat template: /v1/chat/completions will refuse requests", folder)

    def close(self) -> None:
        self.scheduler.close()

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

    def _choices(self, body: GenerateRequest, prompts: list[list[int]], sampling: Sampling, echo: bool = False
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
        c, admission = self.scheduler.counters, self.scheduler.admission
        return {"status": "ok", "mode": "model", "model": self.model_id, "device": str(self.engine.device),
                "running": admission.running, "waiting": admission.waiting,
                "limits": {"max_concurrent": admission.concurrent, "queue_size": admission.queue,
                           "max_prompt_tokens": self.max_prompt_tokens, "max_tokens": self.max_tokens_limit,
                           "context_length": self.engine.context_length},
                "served": {"requests": self.scheduler.requests, "finished": c.finished, "cancelled": c.cancelled,
                           "generated_tokens": c.generated_tokens}}

    async def completions(self, body: CompletionRequest, request: Request) -> Response:
        self._check_model(body.model)
        refuse_unsupported(body)
        prompts = self._prompt_ids(body.prompt)
        max_tokens = 16 if body.max_tokens is None else body.max_tokens
        self._check_lengths(prompts, max_tokens, "prompt")
        sampling = Sampling(max_tokens, body.temperature, body.top_p, body.top_k, body.seed, stops(body.stop),
                            ignore_eos=body.ignore_eos, logprobs=body.logprobs)
        choices = self._choices(body, prompts, sampling, echo=body.echo)
        return await self._answer(request, body, choices, "cmpl", sum(map(len, prompts)))

    async def chat(self, body: ChatRequest, request: Request) -> Response:
        self._check_model(body.model)
        refuse_unsupported(body)
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
        sampling = Sampling(max_tokens, body.temperature, body.top_p, body.top_k, body.seed, stops(body.stop),
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

    async def _answer(self, request: Request, body: GenerateRequest, choices: list[Choice], kind: str,
                      prompt_tokens: int) -> Response:
        head = {"id": f"{kind}-{uuid.uuid4().hex}", "created": int(time.time()), "model": self.model_id}
        usage = body.stream_options is not None and body.stream_options.include_usage
        return await self.scheduler.answer(request, choices, head, kind, prompt_tokens, body.stream, usage)


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
    install_error_handlers(app)
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

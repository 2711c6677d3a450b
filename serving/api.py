"""What the server's API accepts and how it refuses: the request bodies (strict: an unknown field, a wrong type or NaN
is the caller's mistake), OpenAI's error body for every refusal, and the guard in front of everything (the API key,
the body size)."""

from __future__ import annotations

import hmac
import logging
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

TOKENIZER_ROUTES = ("/tokenize", "/detokenize", "/tokenizer_info")
MAX_CHOICES = 16  # prompts times n in one request: each is a whole generation in the same slot
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


def install_error_handlers(app: FastAPI) -> None:
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


class GenerateRequest(_Strict):
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


class CompletionRequest(GenerateRequest):
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


class ChatRequest(GenerateRequest):
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


def refuse_unsupported(body: GenerateRequest) -> None:
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


def stops(stop: str | list[str] | None) -> tuple[str, ...]:
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    if len(stops) > 16 or any(not s or len(s) > 256 for s in stops):
        raise APIError(400, "'stop' takes up to 16 non-empty strings of at most 256 characters.", param="stop")
    return stops

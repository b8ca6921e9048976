"""Errors as JSON ``{"error": ..., "hint": ...}`` with a fitting status, never a traceback.

| status | when |
|---|---|
| 400 | InvalidQuestion; a body that is not JSON; a span outside its document |
| 401 | a bearer token is required and missing or wrong |
| 404 | unknown document (or page, or path) |
| 409 | the index is stale and the server refuses stale indexes; a corpus file changed since the build |
| 413 | the request body is larger than the limit |
| 422 | a request that does not fit the schema; an option out of range (InvalidSetting) |
| 429 | the per-client rate limit was reached |
| 502 | the LLM failed and ``strict`` was asked for |
| 503 | no index is built, it cannot be read, or a stage the answers need (the answer model) cannot be loaded |
| 504 | the LLM timed out and ``strict`` was asked for |
"""

from __future__ import annotations

import json
import logging

from ..errors import (
    BackendUnavailable,
    CorpusError,
    IndexCorrupt,
    IndexNotBuilt,
    IndexStale,
    InvalidQuestion,
    InvalidSetting,
    PdqaError,
)
from .documents import BadSpan, NotAPdf, SourceChanged, UnknownDocument
from .live import QAUnavailable

log = logging.getLogger("pdqa.server")

STATUS_OF = (
    (InvalidQuestion, 400),
    (BadSpan, 400),
    (UnknownDocument, 404),
    (NotAPdf, 404),
    (SourceChanged, 409),
    (IndexStale, 409),
    (IndexNotBuilt, 503),
    (IndexCorrupt, 503),
    (CorpusError, 503),
    (QAUnavailable, 503),
    (InvalidSetting, 422),
)
TIMEOUT_WORDS = ("did not finish its reply within", "timed out", "timeout")


def status_of(exc: PdqaError) -> int:
    """The HTTP status of an expected pdqa failure."""
    if isinstance(exc, BackendUnavailable):
        if not is_llm_failure(exc):  # the answer model or another stage of this server: not a gateway's fault
            return 503
        return 504 if is_timeout(exc) else 502
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 500


def is_llm_failure(exc: BackendUnavailable) -> bool:
    """Whether the LLM failed (generate.py names it first: "LLM openai-like gemma at ... did not answer")."""
    return str(exc).startswith("LLM ")


def is_timeout(exc: BaseException) -> bool:
    """Whether an LLM failure was a timeout (pdqa's own deadline or the client library's)."""
    seen = exc
    while seen is not None:
        if isinstance(seen, TimeoutError) or "timeout" in type(seen).__name__.lower():
            return True
        if any(word in str(seen).lower() for word in TIMEOUT_WORDS):
            return True
        seen = seen.__cause__
    return False


def body(error: str, hint: str = "") -> dict:
    return {"error": " ".join(str(error).split()), "hint": " ".join(str(hint or "").split())}


def pdqa_body(exc: PdqaError) -> dict:
    return body(str(exc), exc.hint)


def json_bytes(error: str, hint: str = "") -> bytes:
    return json.dumps(body(error, hint)).encode("utf-8")


def install(app) -> None:
    """Register the handlers that turn every failure into the JSON error body."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    def respond(status: int, payload: dict, headers: dict | None = None):
        return JSONResponse(payload, status_code=status, headers=headers)

    @app.exception_handler(PdqaError)
    async def pdqa_error(request, exc: PdqaError):
        status = status_of(exc)
        if status == 500:
            log.error("unexpected pdqa error on %s: %s", request.url.path, exc)
        return respond(status, pdqa_body(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return respond(400, body("the request body is not valid JSON", 'Send a JSON object, e.g. {"question": "Who wrote the report?"}.'))
        return respond(422, body(_validation_line(errors), "See /docs for the request schema."))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        hints = {404: "See /docs for the endpoints.", 405: "See /docs for the methods each endpoint takes.",
                 413: "Send a smaller request body.", 401: "", 429: "Wait a little and try again."}
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.url.path[:200]}"
        if exc.status_code == 405 and detail == "Method Not Allowed":
            detail = f"{request.method} is not allowed on {request.url.path[:200]}"
        return respond(exc.status_code, body(detail, getattr(exc, "hint", None) or hints.get(exc.status_code, "")),
                       getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return respond(500, body("internal error: the server could not answer this request",
                                 "The server's log has the details."))


def _validation_line(errors: list[dict]) -> str:
    """The first validation error as one line: 'k: Input should be less than or equal to 50'."""
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where or 'body'}: {first.get('msg', 'invalid')}{more}"

"""The FastAPI app of ``pdqa serve``: the JSON API under /v1, the web page at /, MCP at /mcp.

Every answer comes from one QA per process (:class:`~pdqa.server.live.LiveQA`), shared by the
requests and swapped when another process rebuilds the index. The API returns pdqa's own models
(Answer, Hit, DocumentInfo), so /docs and ``pdqa ask --json`` describe the same JSON.

    from pdqa.server.app import create_app
    app = create_app(Settings())        # then: uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import contextlib
import logging

from fastapi import FastAPI, Query
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..version import __version__
from ..index import describe, index_status
from ..models import Answer, Hit
from ..settings import Settings
from . import documents as docs
from . import is_loopback
from . import errors
from .live import LiveQA, Options, ServerStale
from .schemas import (
    AskRequest,
    DocumentList,
    DocumentSummary,
    ErrorBody,
    Health,
    IndexReport,
    QuoteBoxes,
    RetrieveRequest,
    StreamError,
    StreamSentence,
    StreamWaiting,
    TextSpan,
)
from .security import DEFAULT_MAX_BODY, LOOPBACK_HOSTS, BearerAuth, BodyLimit, HostCheck, RateLimit, SecurityHeaders
from .streaming import SSE_HEADERS, start_stream

log = logging.getLogger("pdqa.server")

DESCRIPTION = """Answers from a folder of documents in which every statement is an exact, cited quote of
the stored text, or "the documents do not say". `POST /v1/ask` returns the same Answer JSON as
`pdqa ask --json`. Errors are `{"error": ..., "hint": ...}`."""


def _errors(*statuses: int) -> dict:
    return {status: {"model": ErrorBody} for status in statuses}


def create_app(
    settings: Settings | None = None,
    *,
    live: LiveQA | None = None,
    on_stale: ServerStale = "use",
    token: str | None = None,
    token_env: str | None = None,
    bind_host: str = "127.0.0.1",
    max_body: int = DEFAULT_MAX_BODY,
    rate_limit: int | None = None,
    mcp: bool = False,
    preload: bool = True,
) -> FastAPI:
    """The app over ``settings`` (default: from the environment).

    Args:
        settings: Corpus, index and default answer settings.
        live: The shared QA holder (default: one over ``settings``).
        on_stale: Open a stale index as it is ("use"), or answer 409 ("raise").
        token: Bearer token every request but /v1/health and static files must carry (None: none).
        token_env: Name of the variable the token came from (named in the 401 hint, never the token).
        bind_host: The address served; on loopback, requests must name a loopback Host.
        max_body: Largest request body, in bytes (413 above).
        rate_limit: Requests a minute per client address (None: unlimited).
        mcp: Also serve MCP (streamable HTTP) at /mcp.
        preload: Open the index at start-up rather than on the first request.
    """
    settings = settings or Settings()
    live = live or LiveQA(settings, on_stale)
    mcp_server = None
    if mcp:
        from .mcp_tools import build_mcp_server

        mcp_server = build_mcp_server(live)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if preload:
            await run_in_threadpool(live.preload)
        async with contextlib.AsyncExitStack() as stack:
            if mcp_server is not None:
                await stack.enter_async_context(mcp_server.session_manager.run())
            yield
        live.close()

    app = FastAPI(title="pdqa", version=__version__, description=DESCRIPTION, docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.live = live
    app.state.settings = settings
    errors.install(app)
    _api_routes(app, live, settings)
    from .web import install as install_web

    install_web(app, live, settings, token=token)
    if mcp_server is not None:
        http_app = mcp_server.streamable_http_app(streamable_http_path="/mcp", host=bind_host, stateless_http=True,
                                                  max_request_body_size=max_body)
        app.router.routes.extend(route for route in http_app.routes if getattr(route, "path", None) == "/mcp")
    # Outermost last: headers on every response, then Host, token, rate and body checks.
    app.add_middleware(BodyLimit, limit=max_body)
    app.add_middleware(RateLimit, per_minute=rate_limit)
    app.add_middleware(BearerAuth, token=token, token_env=token_env)
    app.add_middleware(HostCheck, allowed=LOOPBACK_HOSTS if is_loopback(bind_host) else None)
    app.add_middleware(SecurityHeaders)
    return app


def _json(model) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


def _options(request: AskRequest) -> Options:
    return Options(request.min_confidence, request.llm, request.base_url, request.model, request.strict)


def _api_routes(app: FastAPI, live: LiveQA, settings: Settings) -> None:
    @app.post("/v1/ask", response_model=Answer, tags=["answers"], summary="Answer a question with cited quotes",
              responses=_errors(400, 401, 409, 413, 422, 429, 502, 503, 504))
    def ask(request: AskRequest):
        """The Answer, exactly as `pdqa ask --json` prints it: the text with [n] markers, each
        citation an exact quote of the stored text (`quote == stored_text[start:end]`), the
        calibrated `confidence`, and when the documents do not say, `abstained` with the reason
        and the closest passages in `related`."""
        with live.lease() as loaded:
            return _json(loaded.variant(_options(request)).ask(request.question, k=request.k))

    @app.post("/v1/ask/stream", tags=["answers"], summary="Answer as server-sent events",
              response_class=StreamingResponse,
              responses={200: {"description": "`text/event-stream`: `waiting` (StreamWaiting, with an LLM), one "
                               "`sentence` (StreamSentence) per verified sentence as soon as it is verified, then "
                               "`done` (the Answer); `error` (StreamError) if the answer fails after the stream started.",
                               "content": {"text/event-stream": {"schema": {"type": "string"}}}},
                         **_errors(400, 401, 409, 413, 422, 429, 503)})
    async def ask_stream(request: AskRequest):
        stream = await start_stream(live, _options(request), request.question, request.k)
        return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)

    @app.post("/v1/retrieve", response_model=list[Hit], tags=["answers"], summary="Ranked passages for a question",
              responses=_errors(400, 401, 409, 413, 422, 429, 503))
    def retrieve(request: RetrieveRequest):
        """The hits `pdqa retrieve --json` prints: fused, dense and BM25 scores and ranks."""
        with live.lease() as loaded:
            hits = loaded.qa.retrieve(request.question, k=request.k)
        return Response(b"[" + b",".join(hit.model_dump_json().encode() for hit in hits) + b"]", media_type="application/json")

    @app.get("/v1/documents", response_model=DocumentList, tags=["documents"], summary="The documents of the index",
             responses=_errors(401, 503))
    def list_documents():
        with live.lease() as loaded:
            documents = docs.documents_for(loaded)
            return {"documents": [d.summary() for d in documents.values()], "generation": loaded.generation}

    @app.get("/v1/documents/{doc_id}", response_model=DocumentSummary, tags=["documents"], summary="One document",
             responses=_errors(401, 404, 503))
    def get_document(doc_id: str):
        with live.lease() as loaded:
            return docs.find_document(loaded, doc_id).summary()

    @app.get("/v1/documents/{doc_id}/text", response_model=TextSpan, tags=["documents"],
             summary="A document's stored text, or a span of it", responses=_errors(400, 401, 404, 503))
    def document_text(doc_id: str, start: int | None = Query(None, ge=0, description="Offset in the stored text of the file."),
                      end: int | None = Query(None, ge=0, description="End offset (exclusive).")):
        """Exactly `stored_text[start:end]` (default: the whole document), what citations quote."""
        with live.lease() as loaded:
            return docs.text_span(loaded, doc_id, start, end)

    @app.get("/v1/documents/{doc_id}/pages/{page}.png", tags=["documents"], summary="A PDF page as PNG",
             response_class=Response,
             responses={200: {"content": {"image/png": {}}, "description": "The page rendered by pdfium."},
                        **_errors(401, 404, 409, 503)})
    def page_png(doc_id: str, page: int, scale: float = Query(docs.DEFAULT_PAGE_SCALE, ge=docs.PAGE_SCALES[0],
                                                               le=docs.PAGE_SCALES[1], description="Pixels per PDF point.")):
        with live.lease() as loaded:
            document = docs.find_document(loaded, doc_id)
            png = docs.render_page(settings, document, page, scale)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    @app.get("/v1/documents/{doc_id}/quote-boxes", response_model=QuoteBoxes, tags=["documents"],
             summary="Where a quote's characters are on its PDF pages", responses=_errors(400, 401, 404, 409, 503))
    def quote_boxes(doc_id: str, start: int = Query(..., ge=0), end: int = Query(..., ge=0)):
        """Rectangles (PDF points from each page's top left) over the characters of
        `stored_text[start:end]`, found on the page with pdfium's text page, for drawing over the
        page image."""
        with live.lease() as loaded:
            document = docs.find_document(loaded, doc_id)
            pages = docs.quote_boxes(settings, loaded, document, start, end)
            quote = loaded.index.text_of(document.info.path)[start:end]
        return {"doc_id": doc_id, "start": start, "end": end, "quote": quote,
                "pages": [{"page": p.page, "width": p.width, "height": p.height, "exact": p.exact,
                           "boxes": [{"x": x, "y": y, "width": w, "height": h} for x, y, w, h in p.boxes]} for p in pages]}

    @app.get("/v1/health", response_model=Health, tags=["server"], summary="Is the server up, is an index loaded")
    def health():
        loaded = live.loaded
        return {"status": "ok", "version": __version__, "ready": loaded is not None,
                "generation": loaded.generation if loaded else None}

    @app.get("/v1/index", response_model=IndexReport, tags=["server"], summary="Index status and staleness",
             responses=_errors(401))
    def index_report():
        """`pdqa index status --json` for the served index, with the generation the server
        answers from (a build by another process is picked up at the next question)."""
        status = index_status(settings)
        loaded = live.loaded
        return {"status": describe(status), "usable": status.usable, "live_generation": live.live_generation(),
                "loaded_generation": loaded.generation if loaded else None,
                "loaded_built_at": loaded.manifest.built_at if loaded else None,
                "loaded_stale_reasons": list(loaded.index.stale_reasons) if loaded else [],
                "on_stale": live.on_stale}

    # The stream's event payloads, so that /docs lists their schemas too.
    app.openapi_extra_models = (StreamWaiting, StreamSentence, StreamError)
    _add_extra_schemas(app)


def _add_extra_schemas(app: FastAPI) -> None:
    from pydantic.json_schema import models_json_schema

    original = app.openapi

    def openapi():
        if app.openapi_schema is None:
            schema = original()
            _, extra = models_json_schema([(m, "serialization") for m in app.openapi_extra_models],
                                          ref_template="#/components/schemas/{model}")
            schema.setdefault("components", {}).setdefault("schemas", {}).update(extra.get("$defs", {}))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi

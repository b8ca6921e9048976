"""The web page: a question box, the answer with its sources, and a document view for each quote.

Pages are rendered on the server (Jinja, every value escaped), so a plain form post without
JavaScript returns the whole answer page. The page's one script (``static/app.js``, allowed by a
per-response nonce in the Content-Security-Policy) streams the answer instead: it posts the
question to ``/web/ask`` and inserts the server-rendered fragments as they arrive. Nothing is
fetched from anywhere else; the page works offline.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool

from ..version import __version__
from ..errors import InvalidQuestion, PdqaError
from ..models import Answer, Citation
from ..qa import MAX_QUESTION_CHARS, Done, Sentence, Waiting
from ..settings import TOP_K_RANGE
from ..text import MARKER_RE
from . import documents as docs
from .errors import pdqa_body, status_of
from .live import LiveQA, Options
from .security import SESSION_COOKIE, page_csp, session_value, tokens_match
from .streaming import SSE_HEADERS, start_stream

WEB_DIR = Path(__file__).resolve().parent / "web"
TEMPLATES = WEB_DIR / "templates"
STATIC = WEB_DIR / "static"
HIGHLIGHT_PAD = 1.5  # points added around each character box drawn on a PDF page


_CODE_SPAN = re.compile(r"`([^`]+)`")


def code_spans(text: str) -> Markup:
    """``text`` escaped, with its `backquoted` parts as <code> (the API descriptions' only markup)."""
    return Markup(_CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def _environment() -> Environment:
    environment = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["segment"] = lambda value: quote(str(value), safe="")
    environment.filters["code_spans"] = code_spans
    environment.globals.update(version=__version__, max_question=MAX_QUESTION_CHARS)
    return environment


ENV = _environment()


def render(template: str, status: int = 200, **context) -> HTMLResponse:
    """A page with its own nonce, and the policy that allows only the script carrying it."""
    nonce = secrets.token_urlsafe(18)
    html = ENV.get_template(template).render(nonce=nonce, **context)
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": page_csp(nonce),
                                                           "Cache-Control": "no-store"})


def fragment(template: str, **context) -> str:
    return ENV.get_template(template).render(**context)


# ---------------------------------------------------------------- what a reader sees of an answer


@dataclass
class Piece:
    text: str
    numbers: tuple[int, ...] = ()


def pieces(text: str) -> list[Piece]:
    """The answer text cut at its [n] markers, so each marker can link to its source."""
    out, position = [], 0
    for found in MARKER_RE.finditer(text):
        if found.start() > position:
            out.append(Piece(text[position:found.start()]))
        numbers = tuple(int(n) for n in found.group(1).replace(";", ",").split(","))
        out.append(Piece(found.group(0), numbers))
        position = found.end()
    if position < len(text):
        out.append(Piece(text[position:]))
    return out


def confidence_words(probability: float) -> tuple[str, str]:
    """(level, sentence): the calibrated confidence as a reader would say it."""
    in_ten = max(0, min(10, round(probability * 10)))
    if probability >= 0.85:
        return "high", f"High confidence: answers like this one are right about {in_ten} times in 10."
    if probability >= 0.65:
        return "good", f"Fairly confident: answers like this one are right about {in_ten} times in 10."
    if probability >= 0.45:
        return "medium", f"Uncertain: answers like this one are right about {in_ten} times in 10. Read the quotes."
    return "low", f"Low confidence: answers like this one are right only about {in_ten} times in 10. Read the quotes."


def reason_words(answer: Answer) -> str:
    """Why pdqa abstained, for a reader."""
    reason = answer.abstain_reason
    if reason.startswith("confidence "):
        return ("The closest passages do not seem to answer this question: pdqa's confidence that they do "
                f"({answer.confidence:.0%}) is below the level at which it answers.")
    return {
        "no passage was retrieved that could answer": "No passage of the documents looks like it could answer this question.",
        "instruction, not a question": "This reads as an instruction, not a question about the documents.",
        "the model found no answer in the passages": "The language model found no answer in the passages it was given.",
    }.get(reason, reason[:1].upper() + reason[1:] + "." if reason else "The documents do not answer this question.")


def mode_words(answer: Answer) -> str:
    if answer.mode == "llm" and answer.llm is not None:
        return (f"Written by the language model {answer.llm.model or answer.llm.backend}; every sentence shown was "
                "checked against the passage it cites.")
    if answer.mode == "extractive-fallback":
        return "The language model's answer could not be used, so these are the documents' own sentences."
    return "Every sentence is quoted word for word from the documents."


def citation_link(citation: Citation) -> str:
    """The document view of a citation, scrolled to the quote: on its PDF page, else in its paragraph."""
    anchor = "page-quote" if citation.page is not None else "quote"
    return f"/documents/{quote(citation.doc_id, safe='')}?start={citation.start}&end={citation.end}#{anchor}"


def answer_context(answer: Answer) -> dict:
    level, words = confidence_words(answer.confidence)
    return {"answer": answer, "pieces": pieces(answer.answer), "confidence_level": level, "confidence_words": words,
            "reason": reason_words(answer) if answer.abstained else "", "mode": mode_words(answer),
            "link": citation_link}


# ---------------------------------------------------------------- routes


def install(app: FastAPI, live: LiveQA, settings, token: str | None = None) -> None:
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")

    @app.get("/", include_in_schema=False)
    async def home(q: str | None = None, k: int | None = None):
        if q is None:
            return render("index.html", title="Ask the documents", question="")
        return await _answer_page(live, q, k)

    @app.post("/", include_in_schema=False)
    async def home_post(request: Request):
        form = await _form(request)
        return await _answer_page(live, form.get("q", ""), _top_k(form.get("k")))

    @app.post("/web/ask", include_in_schema=False)
    async def web_stream(request: Request):
        form = await _form(request)
        stream = await start_stream(live, Options(), form.get("q", ""), _top_k(form.get("k")),
                                    encode=_html_event, encode_error=_html_error)
        return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)

    @app.get("/documents/{doc_id}", include_in_schema=False)
    def document_page(doc_id: str, start: int | None = None, end: int | None = None):
        try:
            with live.lease() as loaded:
                document = docs.find_document(loaded, doc_id)
                view = docs.document_view(loaded, document, start, end)
                figures, notice = [], ""
                if document.is_pdf and view.quote:
                    try:
                        figures = [_figure(p) for p in docs.quote_boxes(settings, loaded, document, view.start, view.end)]
                    except docs.SourceChanged as exc:
                        notice = f"{exc}. The page image is not shown."
        except PdqaError as exc:
            return _error_page(exc)
        return render("document.html", title=document.info.title, view=view, document=document,
                      figures=figures, notice=notice)

    @app.get("/docs", include_in_schema=False)
    def api_docs():
        return render("docs.html", title="pdqa API", api=_api_reference(app.openapi()))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon():
        return Response(status_code=204)

    if token is not None:
        @app.get("/login", include_in_schema=False)
        def login_page():
            return render("login.html", title="Sign in", failed=False)

        @app.post("/login", include_in_schema=False)
        async def login(request: Request):
            form = await _form(request)
            if not tokens_match(form.get("token", ""), token):
                return render("login.html", status=401, title="Sign in", failed=True)
            response = RedirectResponse("/", status_code=303)
            response.set_cookie(SESSION_COOKIE, session_value(token), httponly=True, samesite="strict", path="/")
            return response


async def _form(request: Request) -> dict[str, str]:
    """A urlencoded form body (the page's only kind), first value of each field."""
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidQuestion("the form is not valid UTF-8") from None
    return {key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()}


def _top_k(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        k = int(value)
    except ValueError:
        return None
    return k if TOP_K_RANGE[0] <= k <= TOP_K_RANGE[1] else None


async def _answer_page(live: LiveQA, question: str, k: int | None):
    def answer():
        with live.lease() as loaded:
            return loaded.qa.ask(question, k=k)

    try:
        result = await run_in_threadpool(answer)
    except PdqaError as exc:
        return render("index.html", status=status_of(exc), title="Ask the documents", question=question,
                      error=pdqa_body(exc))
    return render("index.html", title=f"{question[:80]} — pdqa", question=question, **answer_context(result))


def _html_event(event) -> tuple[str, object]:
    if isinstance(event, Waiting):
        return "status", {"text": f"Waiting for the language model ({event.llm}); verified sentences appear as it writes."}
    if isinstance(event, Sentence):
        return "sentence", {"html": fragment("_sentence.html", pieces=pieces(event.text))}
    if isinstance(event, Done):
        return "done", {"html": fragment("_answer.html", **answer_context(event.answer))}
    raise TypeError(f"unknown event {event!r}")


def _html_error(exc) -> tuple[str, object]:
    error = pdqa_body(exc) if isinstance(exc, PdqaError) else {"error": "internal error: the answer failed",
                                                               "hint": "The server's log has the details."}
    return "error", {"html": fragment("_error.html", error=error)}


def _error_page(exc: PdqaError) -> HTMLResponse:
    return render("error.html", status=status_of(exc), title="Not available", error=pdqa_body(exc))


def _figure(page: docs.PageBoxes) -> dict:
    pad = HIGHLIGHT_PAD
    return {"page": page.page, "width": page.width, "height": page.height, "exact": page.exact,
            "boxes": [(round(x - pad, 2), round(y - pad, 2), round(w + 2 * pad, 2), round(h + 2 * pad, 2))
                      for x, y, w, h in page.boxes]}


# ---------------------------------------------------------------- the API reference at /docs


def _api_reference(schema: dict) -> dict:
    """The OpenAPI document as the /docs page lists it: operations, then the models' fields."""
    operations = []
    for path, methods in schema.get("paths", {}).items():
        for method, operation in methods.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            operations.append({
                "method": method.upper(), "path": path, "summary": operation.get("summary", ""),
                "description": operation.get("description", ""),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                "type": _type_of(p.get("schema", {})), "description": p.get("description", "")}
                               for p in operation.get("parameters", [])],
                "body": _type_of(body) if body else "",
                "responses": [{"status": status, "description": r.get("description", ""),
                               "type": ", ".join(_type_of(c.get("schema", {})) or media
                                                 for media, c in r.get("content", {}).items())}
                              for status, r in operation.get("responses", {}).items()],
            })
    models = []
    for name, model in sorted(schema.get("components", {}).get("schemas", {}).items()):
        required = set(model.get("required", []))
        models.append({"name": name, "description": model.get("description", ""),
                       "fields": [{"name": field, "type": _type_of(spec), "required": field in required,
                                   "description": spec.get("description", "")}
                                  for field, spec in model.get("properties", {}).items()]})
    return {"title": schema.get("info", {}).get("title", "pdqa"), "version": schema.get("info", {}).get("version", ""),
            "description": schema.get("info", {}).get("description", ""), "operations": operations, "models": models}


def _type_of(spec: dict) -> str:
    if not spec:
        return ""
    if "$ref" in spec:
        return spec["$ref"].rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in spec:
            return " | ".join(_type_of(s) for s in spec[key])
    kind = spec.get("type", "")
    if kind == "array":
        return f"list[{_type_of(spec.get('items', {}))}]"
    if kind == "object" and "additionalProperties" in spec:
        inner = spec["additionalProperties"]
        return f"dict[str, {_type_of(inner) if isinstance(inner, dict) else 'any'}]"
    if "enum" in spec:
        return " | ".join(repr(v) for v in spec["enum"])
    if "const" in spec:
        return repr(spec["const"])
    return {"null": "None"}.get(kind, kind or "any")

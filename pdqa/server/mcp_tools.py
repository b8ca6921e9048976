"""pdqa as an MCP server (the official ``mcp`` SDK): ``pdqa mcp`` over stdio, ``pdqa serve --mcp`` at /mcp.

Tools: ``ask``, ``retrieve``, ``list_documents`` and ``get_passage``. Each returns structured
content (pdqa's own models), so a calling model gets the quotes, their offsets and pages, and the
confidence as data. The same LiveQA serves them as the HTTP API, so a rebuild by another process
is picked up at the next call.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, create_model

from ..version import __version__
from ..errors import PdqaError
from ..models import Answer, Hit
from ..settings import TOP_K_RANGE
from . import documents as docs
from .live import LiveQA
from .schemas import DocumentSummary, TextSpan

# The Answer without the retrieval details (hits, timings): what a calling model needs. Built
# from Answer's own fields, so it stays in step with `pdqa ask --json`.
TOOL_ANSWER_DROPS = ("hits", "timings_ms")
ToolAnswer = create_model(
    "ToolAnswer",
    __doc__="pdqa's answer: text with [n] markers, each citation an exact quote of the stored text.",
    **{name: (field.annotation, field) for name, field in Answer.model_fields.items() if name not in TOOL_ANSWER_DROPS},
)

INSTRUCTIONS = (
    "pdqa answers questions from a fixed folder of documents. Every statement in an answer is an exact quote "
    "of a document's stored text, cited as [n] with the document, character offsets and (for PDFs) the page. "
    "When the documents do not answer, pdqa says so (abstained: true): that is a real answer, not a failure - "
    "do not fill the gap from your own knowledge, and do not rephrase quotes as if they said more."
)
ASK_DESCRIPTION = (
    "Answer a question from the documents. Returns the answer text with [n] markers and `citations`, each with "
    "`quote` (exactly stored_text[start:end] of the document: quote it as it is), `doc_id`, `start`, `end`, "
    "`page` and `section`, and `confidence` (the calibrated probability that the answer is right). If "
    "`abstained` is true the documents do not say: report that as the answer ('The documents do not say'), "
    "with `abstain_reason`; `related` then lists the closest passages, which do NOT answer the question."
)
RETRIEVE_DESCRIPTION = (
    "Ranked passages for a question (hybrid dense + BM25 search), best first, each the exact stored text of a "
    "passage with its document, offsets, page and scores. Passages are evidence to read, not answers: prefer "
    "`ask` for an answer, which says when the documents do not answer."
)
LIST_DESCRIPTION = "The documents pdqa answers from: id, title, authors, file, format, pages and length."
PASSAGE_DESCRIPTION = (
    "The exact stored text of a document between two character offsets (as a citation's `start`/`end` give "
    "them), with its page and section; without offsets, the whole document. Use it to read around a quote."
)


Question = Annotated[str, Field(description="The question, in plain words (at most 2,000 characters).")]


class Passages(BaseModel):
    hits: list[Hit] = Field(description="Ranked passages, best first.")


class Documents(BaseModel):
    documents: list[DocumentSummary]


def _failure(exc: PdqaError) -> Exception:
    """The SDK returns a ToolError's message as the tool's error result (no traceback)."""
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(f"{exc} (hint: {exc.hint})" if exc.hint else str(exc))


def build_mcp_server(live: LiveQA):
    """An MCPServer whose tools answer from ``live``."""
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    server = MCPServer("pdqa", instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
    low, high = TOP_K_RANGE

    @server.tool(description=ASK_DESCRIPTION, annotations=read_only, structured_output=True)
    def ask(question: Question, k: int | None = Field(default=None, ge=low, le=high,
                                                  description="Passages to answer from (default: the server's).")) -> ToolAnswer:
        try:
            with live.lease() as loaded:
                answer = loaded.qa.ask(question, k=k)
        except PdqaError as exc:
            raise _failure(exc) from exc
        return ToolAnswer.model_validate(answer.model_dump(exclude=set(TOOL_ANSWER_DROPS)))

    @server.tool(description=RETRIEVE_DESCRIPTION, annotations=read_only, structured_output=True)
    def retrieve(question: Question, k: int | None = Field(default=None, ge=low, le=high,
                                                       description="Passages to return (default: the server's).")) -> Passages:
        try:
            with live.lease() as loaded:
                return Passages(hits=loaded.qa.retrieve(question, k=k))
        except PdqaError as exc:
            raise _failure(exc) from exc

    @server.tool(description=LIST_DESCRIPTION, annotations=read_only, structured_output=True)
    def list_documents() -> Documents:
        try:
            with live.lease() as loaded:
                return Documents(documents=[d.summary() for d in docs.documents_for(loaded).values()])
        except PdqaError as exc:
            raise _failure(exc) from exc

    @server.tool(description=PASSAGE_DESCRIPTION, annotations=read_only, structured_output=True)
    def get_passage(doc_id: Annotated[str, Field(description="A document id, as list_documents or a citation gives it.")],
                    start: int | None = Field(default=None, ge=0, description="Start offset in the stored text."),
                    end: int | None = Field(default=None, ge=0, description="End offset (exclusive).")) -> TextSpan:
        try:
            with live.lease() as loaded:
                return TextSpan(**docs.text_span(loaded, doc_id, start, end))
        except PdqaError as exc:
            raise _failure(exc) from exc

    return server

"""What the HTTP API takes and gives beside pdqa's own records (Answer, Hit, DocumentInfo...).

The answer endpoints return :class:`pdqa.models.Answer` and :class:`pdqa.models.Hit` themselves,
so the OpenAPI schema at /docs and ``pdqa ask --json`` come from the same models.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..models import Citation, DocumentInfo
from ..settings import TOP_K_RANGE


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AskRequest(_Request):
    """A question, with the options ``pdqa ask`` has."""

    question: str = Field(description="The question, in plain words (at most 2,000 characters once spaces are folded).",
                          examples=["Who wrote the Innovation in Action report?"])
    k: int | None = Field(default=None, ge=TOP_K_RANGE[0], le=TOP_K_RANGE[1],
                          description="Passages to answer from (`-k`); default: the server's PDQA_RETRIEVAL__TOP_K.")
    min_confidence: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False,
                                         description="Abstain below this calibrated confidence (`--min-confidence`).")
    llm: str | None = Field(default=None, max_length=40,
                            description="LLM backend that writes the answer (`--llm`): none, openai-like, ollama or llama-cpp.")
    base_url: str | None = Field(default=None, max_length=500, description="LLM server root (`--base-url`).")
    model: str | None = Field(default=None, max_length=200, description="Model name the LLM server knows (`--model`).")
    strict: bool | None = Field(default=None,
                                description="Fail (502, or 504 on a timeout) when the LLM cannot be used instead of answering extractively (`--strict`).")


class RetrieveRequest(_Request):
    """A question whose ranked passages are wanted (``pdqa retrieve``)."""

    question: str = Field(description="The question, in plain words.", examples=["clive house noms"])
    k: int | None = Field(default=None, ge=TOP_K_RANGE[0], le=TOP_K_RANGE[1],
                          description="Hits to return; default: the server's PDQA_RETRIEVAL__TOP_K.")


class ErrorBody(BaseModel):
    """Every error the server returns: what went wrong, and how to put it right."""

    error: str = Field(description="What went wrong, in one line.")
    hint: str = Field(default="", description="How to put it right, in one line ('' when there is nothing to do).")


class DocumentSummary(DocumentInfo):
    """A document of the index, with its file's format and pages."""

    format: str = Field(description="text, markdown, pdf, html or docx.")
    pages: int | None = Field(default=None, description="Number of pages (PDF), else None.")
    chars: int = Field(description="Characters of stored text (end - start).")


class DocumentList(BaseModel):
    documents: list[DocumentSummary]
    generation: str = Field(description="The index generation the list comes from.")


class TextSpan(BaseModel):
    """A span of a document's stored text: exactly ``stored_text[start:end]``."""

    doc_id: str
    title: str
    path: str = Field(description="Corpus file, relative to the corpus folder.")
    start: int
    end: int
    text: str = Field(description="Exactly stored_text[start:end].")
    page: int | None = Field(default=None, description="1-based PDF page where the span starts, else None.")
    section: str = Field(default="", description="Heading the span's start falls under ('' when none).")


class Box(BaseModel):
    x: float = Field(description="From the page's left edge, in PDF points (1/72 inch).")
    y: float = Field(description="From the page's top edge, in PDF points.")
    width: float
    height: float


class PageHighlight(BaseModel):
    page: int = Field(description="1-based page number; its image is /v1/documents/{doc_id}/pages/{page}.png.")
    width: float = Field(description="Page width in PDF points.")
    height: float = Field(description="Page height in PDF points.")
    boxes: list[Box] = Field(description="Rectangles covering the quote's characters on this page.")
    exact: bool = Field(description="True when the quote's characters were found in order; false: its longest matching runs.")


class QuoteBoxes(BaseModel):
    """Where a quote's characters are on the pages of its PDF, for highlighting."""

    doc_id: str
    start: int
    end: int
    quote: str = Field(description="Exactly stored_text[start:end].")
    pages: list[PageHighlight]


class Health(BaseModel):
    status: str = Field(description="'ok' while the server runs.")
    version: str = Field(description="pdqa's version.")
    ready: bool = Field(description="Whether an index is loaded, so questions can be answered.")
    generation: str | None = Field(default=None, description="The loaded index generation.")


class IndexReport(BaseModel):
    """The index as `pdqa index status --json` describes it, and what the server has loaded."""

    status: dict[str, Any] = Field(description="index_status/describe: path, built, stale, reasons, generation, manifest.")
    usable: bool = Field(description="Built, intact and fresh.")
    live_generation: str | None = Field(description="The generation the index folder's CURRENT file names now.")
    loaded_generation: str | None = Field(description="The generation this server answers from.")
    loaded_built_at: str | None = None
    loaded_stale_reasons: list[str] = Field(default_factory=list, description="Why the loaded generation is stale, if it was opened stale.")
    on_stale: str = Field(description="How the server opens a stale index: 'use' it, or 'raise' (409).")


class StreamWaiting(BaseModel):
    """SSE event ``waiting``: the LLM has been asked."""

    llm: str = Field(description="Which model, where.")


class StreamSentence(BaseModel):
    """SSE event ``sentence``: one verified sentence of the LLM's answer, with [n] markers."""

    text: str
    citations: list[Citation] = Field(description="The sources this sentence is the first to cite.")


class StreamError(ErrorBody):
    """SSE event ``error``: the answer failed after the stream had started."""

    status: int = Field(description="The HTTP status the error would have had before the stream started.")

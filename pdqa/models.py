"""Validated records that pdqa saves or returns: chunks, hits, citations, answers, manifests."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentInfo(_Record):
    """One document of the corpus: a whole file, or one part of a file named in its metadata."""

    doc_id: str = Field(description="Stable identifier, unique across the corpus.")
    title: str = Field(description="Human-readable title shown in citations.")
    authors: list[str] = Field(default_factory=list, description="Authors, if known.")
    source: str = Field(default="", description="Where the text comes from.")
    path: str = Field(description="Path of the file holding the text, relative to the corpus folder.")
    start: int = Field(description="Character offset where the document starts in its file.")
    end: int = Field(description="Character offset where the document ends in its file.")


class Chunk(_Record):
    """A retrievable passage; ``text == stored_text[start:end]`` always holds."""

    chunk_id: str = Field(description="Stable id derived from path, offsets and text.")
    doc_id: str = Field(description="The document the passage belongs to.")
    title: str = Field(description="The document's title.")
    section: str = Field(description="Heading the passage falls under ('' when none).")
    path: str = Field(description="Corpus file, relative to the corpus folder.")
    start: int = Field(description="Offset of the passage in the stored text of its file.")
    end: int = Field(description="Offset where the passage ends in the stored text of its file.")
    text: str
    kind: Literal["paragraph", "list", "heading", "table", "footnote", "front"] = "paragraph"
    page: int | None = Field(default=None, description="1-based PDF page where the passage starts, else None.")
    page_label: str | None = Field(default=None, description="The page's printed label (folio), where the PDF has one.")


class Unit(_Record):
    """An answer-sized span inside a chunk: a sentence, a list (item) or a table row."""

    unit_id: int
    chunk_id: str
    start: int
    end: int
    text: str
    kind: Literal["sentence", "list", "heading", "item", "row", "footnote"] = "sentence"
    page: int | None = Field(default=None, description="1-based PDF page where the span starts, else None.")
    page_label: str | None = Field(default=None, description="The page's printed label (folio), where the PDF has one.")


# The fields by which a hit and a citation name their chunk: the chunk's own names for them.
CHUNK_REFERENCE = ("chunk_id", "doc_id", "title", "section", "path")


def reference(chunk: Chunk) -> dict:
    """The fields a hit or citation takes from its chunk, under the chunk's names."""
    return chunk.model_dump(include=set(CHUNK_REFERENCE))


class Hit(_Record):
    """A retrieved chunk with its fused score and both component scores and ranks."""

    rank: int = Field(description="1-based rank after fusion.")
    chunk_id: str
    doc_id: str
    title: str
    section: str
    path: str = Field(description="Corpus file, relative to the corpus folder.")
    start: int
    end: int
    text: str
    page: int | None = Field(default=None, description="1-based PDF page where the passage starts, else None.")
    page_label: str | None = Field(default=None, description="The page's printed label, where the PDF has one.")
    score: float = Field(description="Reciprocal-rank-fusion score.")
    dense_score: float | None = Field(description="Cosine similarity, None when not in the dense top list.")
    dense_rank: int | None
    bm25_score: float | None = Field(description="BM25 score, None when not in the BM25 top list.")
    bm25_rank: int | None


class Citation(_Record):
    """The exact span of a stored corpus text that supports one part of an answer."""

    n: int = Field(description="Marker number as it appears in the answer text, [n].")
    chunk_id: str
    doc_id: str
    title: str
    section: str
    path: str = Field(description="Corpus file, relative to the corpus folder.")
    start: int = Field(description="Start offset of the quote in the stored text of the corpus file.")
    end: int = Field(description="End offset of the quote in the stored text of the corpus file.")
    quote: str = Field(description="Exactly stored_text[start:end].")
    page: int | None = Field(default=None, description="1-based PDF page of the quote, else None.")
    page_label: str | None = Field(default=None, description="The page's printed label (what a reader finds), where the PDF has one.")


class RemovedClaim(_Record):
    """A sentence of an LLM answer that verification dropped, with the reason."""

    sentence: str
    reason: str


class LLMInfo(_Record):
    """Which language model wrote an answer."""

    backend: str
    model: str


class Answer(_Record):
    """pdqa's answer to one question."""

    question: str
    answer: str = Field(description="Answer text with [n] markers, or a plain not-found reply.")
    abstained: bool = Field(description="True when the corpus does not answer the question.")
    mode: Literal["extractive", "llm", "extractive-fallback"] = Field(
        description="'extractive' (quoted sentences), 'llm' (verified LLM sentences), or 'extractive-fallback' (the LLM failed or nothing it wrote was verified)."
    )
    confidence: float = Field(
        default=0.0,
        description="Calibrated probability that the extractive answer is right; pdqa abstains below min_confidence.",
    )
    abstain_reason: str = Field(default="", description="Why pdqa abstained ('' when it answered).")
    citations: list[Citation] = Field(default_factory=list)
    related: list[Citation] = Field(
        default_factory=list, description="Closest passages, given when pdqa abstains."
    )
    hits: list[Hit] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    raw_answer: str | None = Field(default=None, description="The LLM's text as received (llm mode).")
    removed: list[RemovedClaim] = Field(default_factory=list)
    llm: LLMInfo | None = None


class CorpusFileInfo(_Record):
    """One corpus file as the manifest records it."""

    path: str = Field(description="Relative to the corpus folder.")
    sha256: str = Field(description="Hash of the source file's bytes.")
    text_sha256: str = Field(default="", description="Hash of the extracted text stored beside the index ('' when skipped).")
    format: str = Field(default="text", description="text, markdown, pdf, html or docx.")
    title: str = Field(default="", description="The document's own title, as its reader found it.")
    pages: int | None = Field(default=None, description="Number of pages (PDF).")
    page_map: list[tuple[int, int]] | None = Field(
        default=None, description="(offset, page): where each page's text begins in the stored text (PDF)."
    )
    page_labels: list[str] | None = Field(default=None, description="Each page's printed label (PDF), where it has them.")
    regions: list[tuple[int, int, str]] | None = Field(
        default=None, description="(start, end, kind) of table rows, footnotes and the title page in the stored text."
    )
    size: int | None = Field(default=None, description="Size of the source file, in bytes, when it was read.")
    mtime_ns: int | None = Field(
        default=None, description="Its modification time then: a file whose size and time are unchanged is not hashed again."
    )


class ChunkSearch(_Record):
    """How chunk vectors are searched: exactly, or by an HNSW graph with its measured recall."""

    kind: Literal["exact", "hnsw"]
    hnsw_m: int | None = Field(default=None, description="HNSW links per node.")
    ef_construction: int | None = None
    ef_search: int | None = Field(default=None, description="HNSW search breadth, stored in chunks.faiss.")
    recall_at_10: float | None = Field(
        default=None, description="Recall@10 against exact search, measured at build time."
    )
    recall_queries: int = Field(default=0, description="Corpus sentences the recall was measured with.")


class IndexFileInfo(_Record):
    """Size and hash of one file of a built index, as written."""

    sha256: str
    size: int


class Manifest(_Record):
    """What an index generation was built from; any difference with the present means it is stale."""

    pdqa_version: str
    index_format: int
    corpus_dir: str = Field(description="The corpus folder (resolved) the index was built from; it serves no other.")
    embedding_model: str
    model_sha256: str
    model_size: int
    model_mtime_ns: int
    dimension: int
    chunker: dict[str, int | str]
    readers_sha256: str = Field(description="Hash of the readers' code: a new reader makes the index stale.")
    corpus_files: list[CorpusFileInfo]
    documents: list[DocumentInfo] = Field(default_factory=list, description="The documents of the corpus.")
    not_found: str = Field(default="The documents do not say.", description="What pdqa answers when the corpus does not say.")
    metadata_sha256: str
    chunk_count: int
    unit_count: int
    chunk_search: ChunkSearch = Field(
        default_factory=lambda: ChunkSearch(kind="exact"), description="Exact or approximate (HNSW) search."
    )
    built_at: str
    files: dict[str, IndexFileInfo] = Field(
        default_factory=dict, description="Every file of the generation (path relative to it) as written."
    )

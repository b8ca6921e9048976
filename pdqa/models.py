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
    """A retrievable passage; ``text == file_text[start:end]`` always holds."""

    chunk_id: str = Field(description="Stable id derived from path, offsets and text.")
    doc_id: str
    title: str
    section: str = Field(description="Heading the passage falls under ('' when none).")
    path: str = Field(description="Corpus file, relative to the corpus folder.")
    start: int
    end: int
    text: str
    kind: Literal["paragraph", "list", "heading"] = "paragraph"
    page: int | None = Field(default=None, description="1-based page where the passage starts (PDF), else None.")


class Unit(_Record):
    """An answer-sized span inside a chunk: a sentence or a list item (with its lead-in)."""

    unit_id: int
    chunk_id: str
    start: int
    end: int
    text: str
    kind: Literal["sentence", "list", "heading"] = "sentence"
    page: int | None = Field(default=None, description="1-based page where the span starts (PDF), else None.")


class Hit(_Record):
    """A retrieved chunk with its fused score and both component scores and ranks."""

    rank: int = Field(description="1-based rank after fusion.")
    chunk_id: str
    doc_id: str
    title: str
    section: str
    start: int
    end: int
    text: str
    page: int | None = Field(default=None, description="1-based page where the passage starts (PDF), else None.")
    score: float = Field(description="Reciprocal-rank-fusion score.")
    dense_score: float | None = Field(description="Cosine similarity, None when not in the dense top list.")
    dense_rank: int | None
    bm25_score: float | None = Field(description="BM25 score, None when not in the BM25 top list.")
    bm25_rank: int | None


class Citation(_Record):
    """The exact span of a corpus file that supports one part of an answer."""

    n: int = Field(description="Marker number as it appears in the answer text, [n].")
    doc_id: str
    title: str
    section: str
    chunk_id: str
    start: int = Field(description="Start offset of the quote in the stored text of the corpus file.")
    end: int = Field(description="End offset of the quote in the stored text of the corpus file.")
    quote: str = Field(description="Exactly stored_text[start:end].")
    page: int | None = Field(default=None, description="1-based page of the quote (PDF), else None.")
    source_path: str = Field(default="", description="The source document, relative to the corpus folder.")


class RemovedClaim(_Record):
    """A sentence of an LLM answer that verification dropped, with the reason."""

    sentence: str
    reason: str


class LLMInfo(_Record):
    backend: str
    model: str


class Answer(_Record):
    """pdqa's answer to one question."""

    question: str
    answer: str = Field(description="Answer text with [n] markers, or a plain not-found reply.")
    abstained: bool = Field(description="True when the corpus does not answer the question.")
    mode: str = Field(description="'extractive', 'llm', or 'extractive-fallback'.")
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
    pages: int | None = Field(default=None, description="Number of pages (PDF).")
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
    """What an index was built from; any difference with the present means the index is stale."""

    pdqa_version: str
    index_format: int
    embedding_model: str
    model_sha256: str
    model_size: int
    model_mtime_ns: int
    dimension: int
    chunker: dict[str, int | str]
    corpus_files: list[CorpusFileInfo]
    metadata_sha256: str
    chunk_count: int
    unit_count: int
    chunk_search: ChunkSearch = Field(
        default_factory=lambda: ChunkSearch(kind="exact"), description="Exact or approximate (HNSW) search."
    )
    built_at: str
    files: dict[str, IndexFileInfo] = Field(
        default_factory=dict, description="Every index file (path relative to the index folder) as written."
    )
    answer_model_sha256: str = Field(default="", description="The answer model the index was built beside.")

"""The public entry point: ``QA().ask(question)`` and ``QA().retrieve(question)``."""

from __future__ import annotations

import time
from typing import Literal

from .errors import IndexNotBuilt, IndexStale, InvalidQuestion
from .extractive import Candidate, Draft, ExtractiveAnswerer
from .index import IndexData, Progress, build_index, load_index
from .models import Answer, Citation, Hit
from .question import analyse, split_compound
from .retrieval import HybridRetriever
from .settings import Settings

NOT_FOUND = "The report does not say."
MAX_QUESTION_CHARS = 2000


class QA:
    """Question answering over the configured corpus.

    Args:
        settings: pdqa settings; default: read from ``PDQA_*`` environment variables.
        rebuild: False raises IndexNotBuilt/IndexStale when the index is missing or stale;
            "auto" builds it in that case; True always rebuilds first.
        progress: Called with build progress when a build happens.

    Example:
        >>> QA().ask("Who wrote the Innovation in Action report?").citations[0].quote
    """

    def __init__(
        self,
        settings: Settings | None = None,
        rebuild: bool | Literal["auto"] = False,
        progress: Progress | None = None,
    ):
        self.settings = settings or Settings()
        self.rebuilt = False
        started = time.perf_counter()
        self.index = self._open_index(rebuild, progress)
        from .embeddings import OnnxEmbedder

        self.embedder = OnnxEmbedder(self.index.encoder_dir)
        self.retriever = HybridRetriever(self.index, self.settings)
        self.answerer = ExtractiveAnswerer(self.index, self.settings)
        self.load_ms = (time.perf_counter() - started) * 1000

    def _open_index(self, rebuild, progress) -> IndexData:
        if rebuild is True:
            build_index(self.settings, progress)
            self.rebuilt = True
            return load_index(self.settings, check=False)
        try:
            return load_index(self.settings)
        except (IndexNotBuilt, IndexStale):
            if rebuild != "auto":
                raise
        build_index(self.settings, progress)
        self.rebuilt = True
        return load_index(self.settings, check=False)

    def retrieve(self, question: str, k: int | None = None) -> list[Hit]:
        """Return the top ``k`` hits (default ``settings.top_k``) with fused and component scores."""
        text = _checked(question)
        return self.retriever.retrieve(text, self.embedder.embed([text])[0], k)

    def ask(self, question: str, k: int | None = None) -> Answer:
        """Answer a question extractively, with citations, or abstain."""
        text = _checked(question)
        timings: dict[str, float] = {}
        clock = _Clock(timings)
        parts = split_compound(text)
        compound = len(parts) > 1
        # One batch: the whole question for retrieval, then each part of a compound question.
        vectors = clock.run("embed", lambda: self.embedder.embed([text] + (parts if compound else [])))
        hits = clock.run("retrieve", lambda: self.retriever.retrieve(text, vectors[0], k))
        part_vectors = vectors[1:] if compound else vectors
        questions = [analyse(part) for part in parts]
        chunk_ids = [h.chunk_id for h in hits]
        draft = clock.run("answer", lambda: self.answerer.answer_all(questions, part_vectors, chunk_ids))
        timings["total"] = sum(timings.values())
        return build_answer(text, draft, hits, timings)


def _checked(question: str) -> str:
    text = " ".join((question or "").split())
    if not text:
        raise InvalidQuestion("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidQuestion(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    return text


class _Clock:
    """Times named steps into a dict of milliseconds."""

    def __init__(self, timings: dict[str, float]):
        self.timings = timings

    def run(self, name, step):
        started = time.perf_counter()
        result = step()
        self.timings[name] = round((time.perf_counter() - started) * 1000, 2)
        return result


def cite(n: int, candidate: Candidate) -> Citation:
    """A citation of a unit's exact span."""
    unit, chunk = candidate.unit, candidate.chunk
    return Citation(
        n=n,
        doc_id=chunk.doc_id,
        title=chunk.title,
        section=chunk.section,
        chunk_id=chunk.chunk_id,
        start=unit.start,
        end=unit.end,
        quote=unit.text,
    )


def build_answer(question: str, draft: Draft, hits: list[Hit], timings: dict) -> Answer:
    """Turn the answerer's choice into an Answer whose text carries a [n] after each part."""
    related = [cite(n, c) for n, c in enumerate(draft.related, start=1)]
    if draft.abstained:
        return Answer(
            question=question,
            answer=NOT_FOUND,
            abstained=True,
            mode="extractive",
            confidence=draft.confidence,
            abstain_reason=draft.reason,
            related=related,
            hits=hits,
            timings_ms=timings,
        )
    citations = [cite(n, c) for n, c in enumerate(draft.parts, start=1)]
    text = " ".join(f"{display_text(c.quote)} [{c.n}]" for c in citations)
    return Answer(
        question=question,
        answer=text,
        abstained=False,
        mode="extractive",
        confidence=draft.confidence,
        citations=citations,
        hits=hits,
        timings_ms=timings,
    )


def display_text(quote: str) -> str:
    """A quote as it reads in an answer: spaces folded, list items on lines of their own."""
    lines = [" ".join(line.split()) for line in quote.splitlines() if line.strip()]
    if len(lines) == 1:
        return lines[0]
    return lines[0] + "".join(f"\n- {line}" for line in lines[1:])

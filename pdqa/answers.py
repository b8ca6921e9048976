"""Answer assembly: the answerer's choice or the verified LLM sentences become an Answer.

Citations are numbered here, in the order the answer first cites them, and every citation quotes
its unit's exact span of the stored text. The orchestrator (``qa.py``) only wires the stages.
"""

from __future__ import annotations

from .extractive import Candidate, Draft
from .models import Answer, Chunk, Citation, Hit, LLMInfo, Unit, reference
from .text import BULLET_MARKS
from .verify import KeptClaim, Verification


def cite(n: int, unit: Unit, chunk: Chunk) -> Citation:
    """Citation [n] of a unit's exact span."""
    return Citation(n=n, **reference(chunk), start=unit.start, end=unit.end, quote=unit.text,
                    page=unit.page, page_label=unit.page_label)


def _cite_candidates(candidates: list[Candidate]) -> list[Citation]:
    """One citation per run of neighbouring units (a list's lead-in and its items read as one quote)."""
    runs: list[list[Candidate]] = []
    for candidate in sorted(candidates, key=lambda c: (c.chunk.path, c.unit.start)):
        previous = runs[-1][-1] if runs else None
        if previous is not None and _adjacent(previous, candidate):
            runs[-1].append(candidate)
        else:
            runs.append([candidate])
    return [_cite_run(n, run) for n, run in enumerate(runs, start=1)]


def _adjacent(a: Candidate, b: Candidate) -> bool:
    """Units of one chunk with nothing but spaces and list marks between them."""
    if a.chunk.chunk_id != b.chunk.chunk_id or b.unit.start < a.unit.end:
        return False
    between = a.chunk.text[a.unit.end - a.chunk.start : b.unit.start - a.chunk.start]
    return (a.unit.kind == "item" or b.unit.kind == "item") and not between.strip(" \t\n\u00a0" + BULLET_MARKS)


def _cite_run(n: int, run: list[Candidate]) -> Citation:
    if len(run) == 1:
        return cite(n, run[0].unit, run[0].chunk)
    chunk, first, last = run[0].chunk, run[0].unit, run[-1].unit
    quote = chunk.text[first.start - chunk.start : last.end - chunk.start]
    return Citation(n=n, **reference(chunk), start=first.start, end=last.end, quote=quote,
                    page=first.page, page_label=first.page_label)


def extractive_answer(question: str, draft: Draft, hits: list[Hit], timings: dict, not_found: str) -> Answer:
    """The answerer's choice as an Answer whose text carries a [n] after each quoted part.

    Args:
        question: The question as asked.
        draft: What the extractive answerer chose (or why it abstained).
        hits: The retrieved passages the answer was chosen from.
        timings: Milliseconds per step so far.
        not_found: What the corpus says when it does not answer ("The documents do not say.").
    """
    common = {"question": question, "mode": "extractive", "confidence": draft.confidence, "hits": hits, "timings_ms": timings}
    if draft.abstained:
        return Answer(answer=not_found, abstained=True, abstain_reason=draft.reason,
                      related=_cite_candidates(draft.related), **common)
    citations = _cite_candidates(draft.parts)
    return Answer(answer=cited_text(citations), abstained=False, citations=citations, **common)


def cited_text(citations: list[Citation]) -> str:
    """The quotes one after another, each followed by its [n]."""
    return " ".join(f"{display_text(c.quote)} [{c.n}]" for c in citations)


def would_answer(draft: Draft) -> str:
    """The answer text the draft would have given at any confidence ('' when nothing could be quoted)."""
    return cited_text(_cite_candidates(draft.would_answer))


class Numbering:
    """Numbers supporting units [1], [2], ... in the order the kept sentences first cite them."""

    def __init__(self):
        self.citations: dict[int, Citation] = {}

    def cite(self, claim: KeptClaim) -> tuple[str, list[Citation]]:
        """The sentence with its [n] markers, and the citations it is the first to make."""
        new = []
        for unit, chunk in claim.support:
            if unit.unit_id not in self.citations:
                self.citations[unit.unit_id] = cite(len(self.citations) + 1, unit, chunk)
                new.append(self.citations[unit.unit_id])
        markers = "".join(f"[{self.citations[unit.unit_id].n}]" for unit, _ in claim.support)
        return f"{claim.text} {markers}", new


def llm_answer(extractive: Answer, raw: str, verification: Verification, info: LLMInfo, not_found: str) -> Answer:
    """The verified LLM answer; the extractive one when nothing survives verification.

    Args:
        extractive: The extractive answer to the same question over the same hits.
        raw: The model's reply as received.
        verification: What verification kept and removed.
        info: Backend and model, recorded in the answer.
        not_found: What the corpus says when it does not answer.
    """
    common = {"raw_answer": raw, "removed": verification.removed, "llm": info}
    if verification.kept:
        numbering = Numbering()
        text = " ".join(numbering.cite(claim)[0] for claim in verification.kept)
        return extractive.model_copy(update={
            "answer": text, "citations": list(numbering.citations.values()), "abstained": False,
            "abstain_reason": "", "related": [], "mode": "llm", **common,
        })
    if verification.not_found:
        return extractive.model_copy(update={
            "answer": not_found,
            "citations": [], "abstained": True, "mode": "llm",
            "abstain_reason": "the model found no answer in the passages",
            "related": extractive.related or extractive.citations, **common,
        })
    return extractive.model_copy(update={"mode": "extractive-fallback", **common})


def display_text(quote: str) -> str:
    """A quote as it reads in an answer: spaces folded, list items on lines of their own."""
    lines = [" ".join(line.split()) for line in quote.splitlines() if line.strip()]
    if len(lines) == 1:
        return lines[0]
    return lines[0] + "".join(f"\n- {line}" for line in lines[1:])

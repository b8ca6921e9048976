"""Run a gold set through the same ``QA`` object a user gets and score every answer."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from pydantic import BaseModel, ConfigDict

from ..version import __version__
from ..chunking import split_sentences
from ..index import Index
from ..models import Answer, Citation, Hit
from ..qa import QA, Trace
from ..text import MARKER_RE, capitalised_names, content_terms, numbers, word_set
from . import metrics
from .gold import GoldQuestion
from .reportgold import StoredText

RETRIEVAL_DEPTH = 10
K_VALUES = (1, 3, 5)
# Fixed before any LLM run, not tuned: a verified sentence counts as supported by its quotes only
# if its numbers and names are in them and at least this share of its content terms is.
QUOTE_TERM_SHARE = 0.5
HEADLINE = ("answer_correctness", "evidence_recall", "noans_accuracy", "hasans_accuracy", "quote_fidelity")


class QuestionResult(BaseModel):
    """One gold question, pdqa's answer, and how it scored."""

    model_config = ConfigDict(extra="forbid")
    id: str
    question: str
    category: str
    split: str
    document: str = ""
    answerable: bool
    answer: str
    abstained: bool
    abstain_reason: str
    confidence: float
    citations: list[Citation]
    correct: bool
    fact_recall: float
    missing_facts: list[list[str]]
    exact_match: float
    f1: float
    citations_total: int
    citations_faithful: int
    citations_on_evidence: int
    evidence_cited: bool
    uncited_sentences: int
    relevant_at_rank: list[bool]
    evidence_found_at: list[int | None]
    sweep_confidence: float
    sweep_correct: bool
    failures: list[str]
    latency_ms: float
    mode: str = "extractive"
    raw_sentences: int = 0
    removed_sentences: int = 0
    verified_sentences: int = 0
    verified_unsupported: int = 0


class EvalRun(BaseModel):
    """All per-question results of one run, with what produced them."""

    model_config = ConfigDict(extra="forbid")
    pdqa_version: str
    gold: str
    split: str
    settings: dict
    elapsed_s: float
    questions: list[QuestionResult]


class _Scorer:
    """Scores answers against gold, reading offsets in the texts the index stores."""

    def __init__(self, index: Index):
        self.file_of_doc = {doc.doc_id: doc.path for doc in index.manifest.documents}
        self.texts = {path: StoredText(text) for path, text in index.store.texts.items()}

    def evidence_spans(self, gold: GoldQuestion) -> list[tuple[str, int, int]]:
        """Where each evidence string lies, found by its words (as the report set anchors it)."""
        spans = []
        for evidence in gold.evidence:
            path = self.file_of_doc.get(evidence.doc_id, "")
            if path in self.texts:
                spans.extend((path, start, end) for start, end in self.texts[path].skeleton.spans(evidence.text))
        return spans

    def faithful(self, citation: Citation) -> bool:
        stored = self.texts.get(self.file_of_doc.get(citation.doc_id, ""))
        return stored is not None and stored.text[citation.start : citation.end] == citation.quote

    def on_evidence(self, citation: Citation, spans) -> bool:
        path = self.file_of_doc.get(citation.doc_id)
        return any(
            p == path and metrics.spans_overlap(citation.start, citation.end, s, e) for p, s, e in spans
        )

    def relevance(self, hits: list[Hit], spans) -> tuple[list[bool], list[int | None]]:
        """Per rank: does the chunk contain an evidence span; per span: first rank holding it."""
        holds = [[self._contains(hit, span) for span in spans] for hit in hits]
        relevant = [any(row) for row in holds]
        found_at = [
            next((rank for rank, row in enumerate(holds, start=1) if row[i]), None)
            for i in range(len(spans))
        ]
        return relevant, found_at

    def _contains(self, hit: Hit, span) -> bool:
        path, start, end = span
        return hit.path == path and hit.start <= start and end <= hit.end


def uncited_sentences(answer_text: str) -> int:
    """Sentences of an answer not followed by a citation marker within their own segment."""
    segments = MARKER_RE.sub("\0", answer_text).split("\0")
    count = 0
    for i, segment in enumerate(segments):
        sentences = len(split_sentences(segment))
        followed_by_marker = i < len(segments) - 1
        count += sentences - 1 if followed_by_marker and sentences else sentences
    return count


def quote_supports(sentence: str, citations: list[Citation]) -> bool:
    """An independent, lexical check that a verified sentence is backed by its cited quotes.

    Unlike the verifier (embedding similarity over whole passages), it reads only the quoted
    spans: every number and capitalised name of the sentence must be in them, and at least
    ``QUOTE_TERM_SHARE`` of its content terms.
    """
    source = " ".join(f"{c.quote} {c.title} {c.section}" for c in citations)
    source_words = word_set(source)
    if any(term not in source_words for term in numbers(sentence) + capitalised_names(sentence)):
        return False
    terms = set(content_terms(sentence))
    return not terms or len(terms & set(content_terms(source))) / len(terms) >= QUOTE_TERM_SHARE


def verified_sentences(answer: Answer) -> list[tuple[str, list[Citation]]]:
    """The sentences of an LLM answer with the citations their [n] markers name."""
    by_number = {c.n: c for c in answer.citations}
    pairs: list[tuple[str, list[Citation]]] = []
    position = 0
    for marker in MARKER_RE.finditer(answer.answer):
        sentence = answer.answer[position : marker.start()].strip()
        cited = [by_number[int(n)] for n in re.split(r"[,;]", marker.group(1)) if int(n) in by_number]
        if sentence:
            pairs.append((sentence, cited))
        elif pairs:  # "[1][2]": a second marker on the same sentence
            pairs[-1][1].extend(cited)
        position = marker.end()
    return pairs


def _llm_counts(answer: Answer) -> dict[str, int | str]:
    """Sentence counts of an LLM answer: as written, removed, kept, and kept but not backed."""
    kept = verified_sentences(answer) if answer.mode == "llm" and not answer.abstained else []
    raw = len(kept) + len(answer.removed) if answer.raw_answer is not None else 0
    return {
        "mode": answer.mode,
        "raw_sentences": raw,
        "removed_sentences": len(answer.removed),
        "verified_sentences": len(kept),
        "verified_unsupported": sum(not quote_supports(s, cs) for s, cs in kept),
    }


def score_question(gold: GoldQuestion, answer: Answer, trace: Trace, scorer: _Scorer) -> QuestionResult:
    """Score one answer (and its retrieval, and the answer it would give at any confidence) against gold."""
    spans = scorer.evidence_spans(gold)
    recall, missing = metrics.fact_recall(answer.answer, gold.facts)
    answered = not answer.abstained
    correct = (answered and recall == 1.0) if gold.answerable else answer.abstained
    all_citations = answer.citations + answer.related
    on_evidence = sum(scorer.on_evidence(c, spans) for c in answer.citations)
    relevant, found_at = scorer.relevance(trace.hits, spans)
    could_answer = bool(trace.forced)
    forced_recall, _ = metrics.fact_recall(trace.forced, gold.facts)
    result = QuestionResult(
        id=gold.id,
        question=gold.question,
        category=gold.category,
        split=gold.split,
        document=gold.document,
        answerable=gold.answerable,
        answer=answer.answer,
        abstained=answer.abstained,
        abstain_reason=answer.abstain_reason,
        confidence=answer.confidence,
        citations=answer.citations,
        correct=correct,
        fact_recall=recall if gold.answerable else 0.0,
        missing_facts=[gold.facts[i] for i in missing],
        exact_match=metrics.exact_match(answer.answer, gold.answers) if answered else 0.0,
        f1=metrics.token_f1(answer.answer, gold.answers) if answered else 0.0,
        citations_total=len(all_citations),
        citations_faithful=sum(scorer.faithful(c) for c in all_citations),
        citations_on_evidence=on_evidence,
        evidence_cited=on_evidence > 0,
        uncited_sentences=uncited_sentences(answer.answer) if answered else 0,
        relevant_at_rank=relevant,
        evidence_found_at=found_at,
        sweep_confidence=trace.draft.confidence if could_answer else 0.0,
        sweep_correct=bool(gold.answerable and could_answer and forced_recall == 1.0),
        failures=[],
        latency_ms=answer.timings_ms.get("total", 0.0),
        **_llm_counts(answer),
    )
    result.failures = failure_reasons(result)
    return result


def failure_reasons(result: QuestionResult) -> list[str]:
    """What went wrong with one question, in words for the report."""
    reasons = []
    if result.answerable and result.abstained:
        reasons.append(f"abstained on an answerable question ({result.abstain_reason})")
    if result.answerable and not result.abstained and result.missing_facts:
        missing = "; ".join(" / ".join(fact) for fact in result.missing_facts)
        reasons.append(f"answer misses: {missing}")
    if result.answerable and not result.abstained and not result.evidence_cited:
        reasons.append("no citation overlaps the evidence")
    if not result.answerable and not result.abstained:
        reasons.append("answered an unanswerable question")
    if result.citations_faithful < result.citations_total:
        reasons.append("a citation quote differs from the corpus text")
    if result.uncited_sentences:
        reasons.append(f"{result.uncited_sentences} uncited sentence(s)")
    return reasons


def run_eval(qa: QA, questions: list[GoldQuestion], gold_name: str, split: str, progress=None) -> EvalRun:
    """Ask every question through ``qa`` once and score it (see :func:`run_plan`)."""
    started = time.perf_counter()
    results = _ask_all(qa, questions, progress, 0, len(questions))
    return EvalRun(pdqa_version=__version__, gold=gold_name, split=split, settings=_tuned_settings(qa),
                   elapsed_s=round(time.perf_counter() - started, 2), questions=results)


def run_plan(plan, progress: Callable[[int, int], None] | None = None, build_progress=None, notice=None) -> EvalRun:
    """Ask every question of an evaluation plan over its corpus (each built once) and score it.

    Each question is answered once, by :meth:`QA.trace`: the answer, the passages to depth 10 and
    the answer it would have given at any confidence (for the abstention sweep and calibration)
    come from one pass. With an LLM configured, the answer is the LLM's (a second pass).
    """
    started = time.perf_counter()
    results: list[QuestionResult] = []
    tuned: dict = {}
    for corpus in plan.corpora:
        qa = QA(corpus.settings, on_stale="rebuild", progress=build_progress, notice=notice)
        try:
            results += _ask_all(qa, corpus.questions, progress, len(results), plan.size)
            tuned = tuned or _tuned_settings(qa)
        finally:
            qa.close()
    return EvalRun(pdqa_version=__version__, gold=plan.gold, split=plan.split, settings=tuned,
                   elapsed_s=round(time.perf_counter() - started, 2), questions=results)


def _ask_all(qa: QA, questions: list[GoldQuestion], progress, done: int, total: int) -> list[QuestionResult]:
    scorer = _Scorer(qa.index)
    results = []
    for number, gold in enumerate(questions, start=done + 1):
        trace = qa.trace(gold.question, depth=RETRIEVAL_DEPTH)
        answer = qa.ask(gold.question) if qa.backend is not None else trace.answer
        results.append(score_question(gold, answer, trace, scorer))
        if progress:
            progress(number, total)
    return results


def _tuned_settings(qa: QA) -> dict:
    tuned = {
        "retrieval": qa.settings.retrieval.model_dump(),
        "answer": {**qa.settings.answer.model_dump(), "min_confidence": qa.answerer.min_confidence},
        "chunk_max_chars": qa.settings.index.chunk_max_chars,
        "answer_model_sha256": qa.answerer.model_sha256,
    }
    if qa.backend is not None:
        from ..answer_model import model_sha256
        from ..support import MODEL_PATH as SUPPORT_MODEL

        tuned["llm"] = {**qa.backend.info.model_dump(), "verify": qa.settings.verify.model_dump(),
                        "support_model_sha256": model_sha256(SUPPORT_MODEL)}
    return tuned

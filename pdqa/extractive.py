"""Answer stage (no LLM): choose the source sentences or lists that answer, or abstain.

Each candidate unit (a sentence or list from a retrieved chunk) is scored by a mix of its dense
similarity to the question and its *coverage*: the IDF-weighted share of the question's content
terms it holds. A unit can answer only if it holds the kind of thing asked for (a name for "who",
a date for "when", a count of the asked-for noun for "how many", a sum of money for "how much").
pdqa abstains when no unit passes both the type check and the thresholds in the settings, which
are tuned on the dev split of the gold set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .index import IndexData
from .models import Chunk, Unit
from .question import (
    NUMBER_WORDS,
    Question,
    TermWeights,
    UnitTerms,
    _held,
    content_terms,
    coverage,
    gives_orders,
    normalise_word,
    words,
)
from .settings import Settings

YEAR_RE = re.compile(r"\b(?:1[89]|20)\d{2}\b")
MONTH_RE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\b"
)
DURATION_RE = re.compile(
    r"\b(?:\d+|" + "|".join(sorted(NUMBER_WORDS)) + r")\s+(?:days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)
QUANTITY_VALUE_RE = re.compile(
    r"\d+(?:\.\d+)?\s*%|\bper ?cent\b|\b(?:" + "|".join(sorted(NUMBER_WORDS)) + r")\b", re.IGNORECASE
)
MONEY_RE = re.compile(r"[£$€]\s?\d|\b\d[\d,.]*\s?(?:pounds|GBP|million|bn)\b", re.IGNORECASE)
PLACE_RE = re.compile(
    r"\b(?:in|at|from|throughout|across|within|to)\s+(?:the\s+)?([A-Z]\w*|country|regions?|offices?|locations?)"
)
NAME_RE = re.compile(r"(?<=[a-z,;:)]\s)(?:[A-Z][a-z]+|[A-Z]{2,})")
PROPER_RE = re.compile(r"(?<=[a-z,;:)]\s)[A-Z][a-z]+")
REASON_RE = re.compile(
    r"\b(?:aim|aims|purpose|because|in order to|so that|so as to|objective|reason|due to|to identify)\b",
    re.IGNORECASE,
)
ANNOUNCES_LIST_RE = re.compile(r"\bthe following\b|:\s*$", re.IGNORECASE)
COUNT_WINDOW = 4  # words after a number in which the counted noun must appear
COMPLEMENT_GAIN = 0.2  # coverage a further unit must add to join the answer


@dataclass
class Candidate:
    """One unit considered as (part of) an answer, with the numbers that decided it."""

    unit: Unit
    chunk: Chunk
    dense: float
    coverage: float
    score: float
    typed: bool


@dataclass
class Draft:
    """What the extractive answerer chose; turned into an Answer with citations by the caller."""

    parts: list[Candidate]
    abstained: bool
    confidence: float
    related: list[Candidate]
    reason: str


class ExtractiveAnswerer:
    """Picks verbatim answer units from retrieved chunks, or abstains."""

    def __init__(self, index: IndexData, settings: Settings):
        self.settings = settings
        self.index = index
        self.chunks = index.chunk_by_id
        self.unit_terms = [self._terms_of(unit) for unit in index.units]
        self.weights = TermWeights(self.unit_terms)

    def _terms_of(self, unit: Unit) -> UnitTerms:
        # The section heading counts too: the vacancy notice's heading names the post.
        section = self.chunks[unit.chunk_id].section
        return UnitTerms(frozenset(content_terms(unit.text)), frozenset(content_terms(section)))

    def answer_all(self, questions: list[Question], vectors: np.ndarray, chunk_ids: list[str]) -> Draft:
        """Answer each part of a compound question and join the parts found.

        Args:
            questions: The parts of the question (one for a simple question).
            vectors: One query vector per part.
            chunk_ids: The retrieved chunks to answer from.
        """
        drafts = [self.answer(q, v, chunk_ids) for q, v in zip(questions, vectors)]
        if len(drafts) == 1:
            return drafts[0]
        answered = [d for d in drafts if not d.abstained]
        if not answered:
            return max(drafts, key=lambda d: d.confidence)
        parts = {c.unit.unit_id: c for d in answered for c in d.parts}
        ordered = sorted(parts.values(), key=lambda c: (c.chunk.path, c.unit.start))
        return Draft(ordered, False, max(d.confidence for d in answered), drafts[0].related, "")

    def answer(self, question: Question, query_vector: np.ndarray, chunk_ids: list[str]) -> Draft:
        """Choose the answer units for ``question`` among the units of the given chunks."""
        candidates = self.candidates(question, query_vector, chunk_ids)
        passages = [c for c in candidates if c.unit.kind != "heading" or question.asks_title]
        related = sorted(passages, key=lambda c: -c.score)[:3]
        if question.instruction:
            return Draft([], True, 0.0, related, "instruction, not a question")
        eligible = [c for c in candidates if self._eligible(question, c)]
        if question.asks_title and any(c.unit.kind == "heading" for c in eligible):
            eligible = [c for c in eligible if c.unit.kind == "heading"]
        if not eligible:
            return Draft([], True, 0.0, related, self._why_not(candidates))
        best = max(eligible, key=lambda c: c.score)
        if best.score < self.settings.answer_threshold:
            return Draft([], True, best.score, related, "no passage scores high enough")
        parts = self._compose(question, best, eligible, query_vector)
        return Draft(parts, False, best.score, related, "")

    def candidates(self, question: Question, query_vector: np.ndarray, chunk_ids: list[str]) -> list[Candidate]:
        """Score every unit of the given chunks against the question."""
        units = [u for chunk_id in chunk_ids for u in self.index.units_by_chunk.get(chunk_id, [])]
        return [self._candidate(question, query_vector, unit) for unit in units]

    def _candidate(self, question: Question, query_vector: np.ndarray, unit: Unit) -> Candidate:
        dense = float(self.index.unit_vectors[unit.unit_id] @ query_vector)
        held = coverage(question, self.unit_terms[unit.unit_id], self.weights)
        alpha = self.settings.answer_alpha
        return Candidate(
            unit=unit,
            chunk=self.chunks[unit.chunk_id],
            dense=dense,
            coverage=held,
            score=alpha * dense + (1 - alpha) * held,
            typed=holds_answer_type(question, unit.text, self.chunks[unit.chunk_id].title),
        )

    def _eligible(self, question: Question, candidate: Candidate) -> bool:
        if candidate.unit.kind == "heading" and not question.asks_title:
            return False  # a heading names a topic; it answers only a question about titles
        if question.events and not self._mentions_events(question, candidate):
            return False
        if gives_orders(candidate.unit.text):
            return False  # a passage telling the reader what to say states nothing
        return candidate.typed and candidate.coverage >= self.settings.coverage_threshold

    def _mentions_events(self, question: Question, candidate: Candidate) -> bool:
        terms = self.unit_terms[candidate.unit.unit_id]
        return all(_held(event, terms.text | terms.section) for event in question.events)

    def _why_not(self, candidates: list[Candidate]) -> str:
        if not any(c.typed for c in candidates):
            return "no passage holds the kind of answer asked for"
        return "no passage covers what the question asks about"

    def _compose(self, question, best: Candidate, eligible, query_vector) -> list[Candidate]:
        parts = [best]
        parts += self._list_companions(question, best, query_vector)
        for other in sorted(eligible, key=lambda c: -c.score):
            if len(parts) >= self.settings.max_answer_units:
                break
            if other.unit.unit_id in {p.unit.unit_id for p in parts}:
                continue
            if other.score >= self.settings.answer_threshold and self._gain(question, parts, other) >= COMPLEMENT_GAIN:
                parts.append(other)
        return sorted(parts, key=lambda c: (c.chunk.path, c.unit.start))

    def _list_companions(self, question, best: Candidate, query_vector) -> list[Candidate]:
        """A sentence announcing a list brings the list; a list brings its announcing sentence."""
        siblings = self.index.units_by_chunk[best.unit.chunk_id]
        position = siblings.index(best.unit)
        companions = []
        if best.unit.kind == "sentence" and ANNOUNCES_LIST_RE.search(best.unit.text):
            companions = [u for u in siblings[position + 1 :] if u.kind == "list"][:1]
        elif best.unit.kind == "list" and position > 0:
            previous = siblings[position - 1]
            if ANNOUNCES_LIST_RE.search(previous.text):
                companions = [previous]
        return [self._candidate(question, query_vector, unit) for unit in companions]

    def _gain(self, question: Question, parts: list[Candidate], other: Candidate) -> float:
        held = UnitTerms(frozenset(), frozenset())
        for part in parts:
            held = held | self.unit_terms[part.unit.unit_id]
        before = coverage(question, held, self.weights)
        after = coverage(question, held | self.unit_terms[other.unit.unit_id], self.weights)
        return after - before


def holds_answer_type(question: Question, text: str, title: str = "") -> bool:
    """Whether ``text`` contains the kind of thing the question asks for.

    The document's own title ("Innovation in Action") is not a name that answers "who".
    """
    own = set(words(title))
    check = {
        "who": lambda: any(name.lower() not in own for name in NAME_RE.findall(text)),
        "when": lambda: bool(YEAR_RE.search(text) or MONTH_RE.search(text)),
        "where": lambda: any(place.lower() not in own for place in PLACE_RE.findall(text)),
        "duration": lambda: bool(DURATION_RE.search(text)),
        "money": lambda: bool(MONEY_RE.search(text)),
        "count": lambda: holds_count(text, question.focus),
        "names": lambda: holds_new_name(text, question.text + " " + title),
        "why": lambda: bool(REASON_RE.search(text)),
        "quantity": lambda: bool(QUANTITY_VALUE_RE.search(text)) or holds_count(text, ()),
    }.get(question.kind)
    return check() if check else True


def holds_new_name(text: str, known_text: str) -> bool:
    """A capitalised name in the text that ``known_text`` (question, title) does not contain."""
    asked = set(words(known_text))
    return any(name.lower() not in asked for name in PROPER_RE.findall(text))


def holds_count(text: str, focus: tuple[str, ...]) -> bool:
    """A number followed closely by every focus word: "four NHS regions" for ("nhs", "region")."""
    tokens = words(text)
    for i, token in enumerate(tokens):
        is_count = token in NUMBER_WORDS or (token.isdigit() and not YEAR_RE.fullmatch(token))
        if not is_count:
            continue
        following = {normalise_word(t) for t in tokens[i + 1 : i + 1 + COUNT_WINDOW]}
        if set(focus) <= following:
            return True
    return False

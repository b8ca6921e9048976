"""Answer stage (no LLM): choose the source sentences or lists that answer, or abstain.

Every unit (sentence or list) of the retrieved chunks is described by the features of
``features.py`` and scored by the learned unit scorer; the best unit is the answer. The learned
answerability model then turns the best unit's score, its margin over the others and what the
passages lack (names, numbers, a negation the question holds) into ``confidence``, a calibrated
probability that the answer is right; below ``min_confidence`` pdqa abstains. Both models were
trained on SQuAD 2.0 articles (see ``pdqa/answerer/MODEL_CARD.md``).

A few rules about the structure of text stay, because they are true of English prose in general
rather than of any question: a heading names a topic and answers only a question about titles; a
passage that gives orders ("ignore previous instructions and say ...") is never quoted; a sentence
announcing a list ("the following:") travels with its list; a question that is itself an
instruction is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .answer_model import AnswerModel, load_answer_model, model_sha256
from .errors import BackendUnavailable
from .features import (
    QUESTION_FEATURES,
    UNIT_FEATURES,
    Candidates,
    FeatureExtractor,
    LazyUnitTerms,
    TermWeights,
    UnitTerms,
    coverage,
    question_row,
)
from .index import IndexData
from .models import Chunk, Hit, Unit
from .question import Question
from .settings import Settings

ANNOUNCES_LIST_RE = re.compile(r"\bthe following\b|:\s*$", re.IGNORECASE)
# Coverage a further unit must add to join the answer: it must bring at least a fifth of the
# question's weighted terms that the chosen units lack (a second fact of a two-part question).
COMPLEMENT_GAIN = 0.2
RELATED = 3  # closest passages shown when pdqa abstains


@dataclass
class Candidate:
    """One unit considered as (part of) an answer, with the unit scorer's logit."""

    unit: Unit
    chunk: Chunk
    score: float


@dataclass
class Draft:
    """What the extractive answerer chose; turned into an Answer with citations by the caller."""

    parts: list[Candidate]
    abstained: bool
    confidence: float
    related: list[Candidate]
    reason: str
    unit_probabilities: dict[int, float] = field(default_factory=dict)
    """The unit scorer's probability that each candidate unit answers, by ``unit_id``."""


class ExtractiveAnswerer:
    """Picks verbatim answer units from retrieved chunks with the learned model, or abstains.

    Args:
        index: The loaded index.
        settings: pdqa settings (``min_confidence``, ``max_answer_units``).
        model: The answer model; default: the one shipped with pdqa.
    """

    def __init__(self, index: IndexData, settings: Settings, model: AnswerModel | None = None):
        self.settings = settings
        self.index = index
        self.model = model or load_answer_model()
        self.model_sha256 = model_sha256() if model is None else "custom"
        _check_features(self.model)
        self.chunks = index.chunk_by_id
        self.unit_terms = LazyUnitTerms(index.units, self.chunks)
        # Counted at load only for an index whose saved counts other code took.
        self.weights = index.term_weights or TermWeights.of(self.unit_terms[u.unit_id] for u in index.units)
        self.extractor = FeatureExtractor(index.units_by_chunk, index.unit_vectors, self.unit_terms, self.weights)

    @property
    def min_confidence(self) -> float:
        """The abstention threshold: the setting, or the one chosen with the model."""
        chosen = self.settings.min_confidence
        return self.model.min_confidence if chosen is None else chosen

    def answer_all(self, questions: list[Question], vectors: np.ndarray, hits: list[Hit]) -> Draft:
        """Answer each part of a compound question and join the parts found.

        Args:
            questions: The parts of the question (one for a simple question).
            vectors: One query vector per part.
            hits: The retrieved chunks to answer from, best first.
        """
        drafts = [self.answer(q, v, hits) for q, v in zip(questions, vectors)]
        if len(drafts) == 1:
            return drafts[0]
        # A unit answers a compound question when it answers one of its parts.
        probabilities: dict[int, float] = {}
        for draft in drafts:
            for unit_id, probability in draft.unit_probabilities.items():
                probabilities[unit_id] = max(probability, probabilities.get(unit_id, 0.0))
        answered = [d for d in drafts if not d.abstained]
        if not answered:
            best = max(drafts, key=lambda d: d.confidence)
            return Draft(best.parts, True, best.confidence, best.related, best.reason, probabilities)
        parts = {c.unit.unit_id: c for d in answered for c in d.parts}
        ordered = sorted(parts.values(), key=lambda c: (c.chunk.path, c.unit.start))
        # Every part has to be right for the joined answer to be right.
        return Draft(ordered, False, min(d.confidence for d in answered), drafts[0].related, "", probabilities)

    def answer(self, question: Question, query_vector: np.ndarray, hits: list[Hit]) -> Draft:
        """Choose the answer units for ``question`` among the units of the retrieved chunks."""
        found = self.extractor.candidates(question, query_vector, hits, self.chunks)
        scores = self.model.unit.logits(found.matrix) if len(found.units) else np.zeros(0)
        probabilities = {u.unit_id: float(p) for u, p in zip(found.units, 1.0 / (1.0 + np.exp(-scores)))}
        allowed = eligible(question, found)
        related = _best(found, scores, allowed, RELATED)
        if question.instruction:
            return Draft([], True, 0.0, related, "instruction, not a question", probabilities)
        if not allowed.any():
            return Draft([], True, 0.0, related, "no passage was retrieved that could answer", probabilities)
        masked = np.where(allowed, scores, -np.inf)
        confidence = self.model.confidence(question_row(question, found, masked))
        if confidence < self.min_confidence:
            reason = f"confidence {confidence:.2f} is below {self.min_confidence:.2f}"
            return Draft([], True, confidence, related, reason, probabilities)
        best = _best(found, scores, allowed, 1)[0]
        parts = self._compose(question, best, found, masked)
        return Draft(parts, False, confidence, related, "", probabilities)

    def _compose(self, question: Question, best: Candidate, found: Candidates, masked: np.ndarray) -> list[Candidate]:
        parts = [best] + self._list_companions(best, found, masked)
        chosen = {p.unit.unit_id for p in parts}
        for i in np.argsort(-masked):
            if len(parts) >= self.settings.max_answer_units or not np.isfinite(masked[i]) or masked[i] < 0:
                break
            other = Candidate(found.units[i], found.chunks[i], float(masked[i]))
            if other.unit.unit_id not in chosen and self._gain(question, parts, other) >= COMPLEMENT_GAIN:
                parts.append(other)
                chosen.add(other.unit.unit_id)
        return sorted(parts, key=lambda c: (c.chunk.path, c.unit.start))

    def _list_companions(self, best: Candidate, found: Candidates, masked: np.ndarray) -> list[Candidate]:
        """A sentence announcing a list brings the list; a list brings its announcing sentence."""
        siblings = self.index.units_by_chunk[best.unit.chunk_id]
        position = siblings.index(best.unit)
        companions: list[Unit] = []
        if best.unit.kind == "sentence" and ANNOUNCES_LIST_RE.search(best.unit.text):
            companions = [u for u in siblings[position + 1 :] if u.kind == "list"][:1]
        elif best.unit.kind == "list" and position > 0 and ANNOUNCES_LIST_RE.search(siblings[position - 1].text):
            companions = [siblings[position - 1]]
        score_of = {u.unit_id: float(s) for u, s in zip(found.units, masked)}
        return [Candidate(u, best.chunk, score_of.get(u.unit_id, best.score)) for u in companions]

    def _gain(self, question: Question, parts: list[Candidate], other: Candidate) -> float:
        held = UnitTerms(frozenset(), frozenset())
        for part in parts:
            held = held | self.unit_terms[part.unit.unit_id]
        before = coverage(question, held, self.weights)
        after = coverage(question, held | self.unit_terms[other.unit.unit_id], self.weights)
        return after - before


def eligible(question: Question, found: Candidates) -> np.ndarray:
    """Which candidates may be quoted at all (a rule of text structure, not of any question).

    A heading answers only a question about titles; a unit that gives orders never answers.
    """
    headings = found.column("is_heading") > 0
    allowed = (found.column("gives_orders") == 0) & (~headings if not question.asks_title else True)
    if question.asks_title and (allowed & headings).any():
        allowed = allowed & headings
    return np.asarray(allowed, dtype=bool)


def _best(found: Candidates, scores: np.ndarray, allowed: np.ndarray, count: int) -> list[Candidate]:
    order = [i for i in np.argsort(-scores) if allowed[i]][:count]
    return [Candidate(found.units[i], found.chunks[i], float(scores[i])) for i in order]


def _check_features(model: AnswerModel) -> None:
    if model.unit.features != list(UNIT_FEATURES) or model.answerable.features != list(QUESTION_FEATURES):
        raise BackendUnavailable(
            "the answer model was trained on other features than this pdqa computes",
            hint="Retrain it with `pdqa train answerer`.",
        )

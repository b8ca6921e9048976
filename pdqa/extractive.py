"""Answer stage (no LLM): choose the source sentences, list items or table rows that answer, or abstain.

1. The first stage (``retrieval.candidate_units``) ranks the units of the retrieved passages and
   the units BM25 over units finds anywhere in the index; the best ``answer.candidates`` go on.
2. The trained reader (``reader.py``) reads each with the question, in its context (section,
   previous sentence, list lead-in), and gives P(this unit answers the question); the choice
   model (``answer_model.py``) ranks the candidates by the reader's logit and whichever
   first-stage signals add to it on validation data.
3. The answerability model (``answer_model.py``) turns the reader's scores into ``confidence``,
   a calibrated probability that the answer is right; below ``min_confidence`` pdqa abstains.
4. The answer is the best unit, with the list it belongs to when it announces or is an item of
   one, and any further unit the reader is as sure of (a second fact, a following sentence).

Two rules of text structure stay, because they are true of English prose in general rather than
of any question: a heading names a topic and answers only a question about titles; a passage that
gives orders (a prompt injection: told apart from facts by a trained check on its vector) is never
quoted. A question that is itself an order is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .answer_model import AnswerModel, load_answer_model, model_sha256, unit_values
from .calibration import CorpusCalibration
from .index import Index
from .models import Chunk, Hit, Unit
from .question import Question
from .reader import ANSWER, Reader, answer_pair, load_reader
from .retrieval import UnitCandidate, candidate_units
from .settings import AnswerSettings

ANNOUNCES_LIST_RE = re.compile(r"\bthe following\b|:\s*$", re.IGNORECASE)
RELATED = 3  # closest passages shown when pdqa abstains
# A list announced at the end of a chunk is read on over at most this many list chunks after it.
FOLLOWING_LIST_CHUNKS = 5


@dataclass
class Candidate:
    """One unit considered as (part of) an answer, with the choice model's score."""

    unit: Unit
    chunk: Chunk
    score: float


@dataclass
class Draft:
    """What the extractive answerer chose; turned into an Answer with citations by the answer stage."""

    parts: list[Candidate]
    abstained: bool
    confidence: float
    related: list[Candidate]
    reason: str
    unit_probabilities: dict[int, float] = field(default_factory=dict)
    """The reader's probability that each candidate unit answers, by ``unit_id``."""
    would_answer: list[Candidate] = field(default_factory=list)
    """The parts the answer would have had at any confidence (for the abstention sweep)."""


class ExtractiveAnswerer:
    """Picks verbatim answer units with the trained reader, or abstains.

    Args:
        index: The loaded index.
        settings: The answer settings (``min_confidence``, ``max_units``, ``candidates``, ``lexical``).
        model: The answerability model; default: the one shipped with pdqa.
        reader: The reader; default: the one shipped with pdqa, loaded on first use.
        calibration: The corpus's own rescaling of the model's confidence and its threshold
            (``pdqa calibrate``); default: the model's own.
    """

    def __init__(self, index: Index, settings: AnswerSettings, model: AnswerModel | None = None, reader: Reader | None = None,
                 calibration: CorpusCalibration | None = None):
        self.settings = settings
        self.index = index
        self._model = model
        self.model_sha256 = model_sha256() if model is None else "custom"
        self._reader = reader
        self.calibration = calibration

    @property
    def model(self) -> AnswerModel:
        """The answerability model: the one given, or pdqa's own, read on first use."""
        if self._model is None:
            self._model = load_answer_model()
        return self._model

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            self._reader = load_reader()
        return self._reader

    @property
    def min_confidence(self) -> float:
        """The abstention threshold: the setting, else the corpus calibration's, else the model's."""
        chosen = self.settings.min_confidence
        if chosen is not None:
            return chosen
        return self.calibration.min_confidence if self.calibration is not None else self.model.min_confidence

    def confidence(self, question: Question, logits: np.ndarray) -> float:
        """The answer model's confidence in the best candidate, rescaled by the corpus calibration if any."""
        confidence = self.model.confidence(self.model.question_row(question, logits))
        return confidence if self.calibration is None else self.calibration.confidence(confidence)

    def answer_all(self, questions: list[Question], vectors: np.ndarray, hits: list[Hit]) -> Draft:
        """Answer each part of a compound question and join the parts found."""
        drafts = [self.answer(q, v, hits) for q, v in zip(questions, vectors)]
        if len(drafts) == 1:
            return drafts[0]
        # A unit answers a compound question when it answers one of its parts.
        probabilities: dict[int, float] = {}
        for draft in drafts:
            for unit_id, probability in draft.unit_probabilities.items():
                probabilities[unit_id] = max(probability, probabilities.get(unit_id, 0.0))
        answered = [d for d in drafts if not d.abstained]
        would = _in_text_order({c.unit.unit_id: c for d in drafts for c in d.would_answer}.values())
        if not answered:
            best = max(drafts, key=lambda d: d.confidence)
            return Draft(best.parts, True, best.confidence, best.related, best.reason, probabilities, would)
        parts = _in_text_order({c.unit.unit_id: c for d in answered for c in d.parts}.values())
        # Every part has to be right for the joined answer to be right.
        confidence = min(d.confidence for d in answered)
        return Draft(parts, False, confidence, drafts[0].related, "", probabilities, would)

    def candidates(self, question: Question, vector: np.ndarray, hits: list[Hit]) -> list[UnitCandidate]:
        """The first stage's best units for a question (the ones the reader reads), best first."""
        return candidate_units(self.index, question.text, vector, hits, self.settings.lexical)[: self.settings.candidates]

    def scores(self, question: str, ranked: list[UnitCandidate]) -> tuple[np.ndarray, np.ndarray]:
        """(the reader's logits, the choice model's scores) of the candidates."""
        units = [self.index.unit(c.unit_id) for c in ranked]
        logits = self.read(question, units) if units else np.zeros(0)
        return logits, self.model.unit_scores(unit_values(ranked, logits))

    def read(self, question: str, units: list[Unit]) -> np.ndarray:
        """The reader's logits for units (answer head)."""
        return self.reader.logits([answer_pair(question, self.index, u.unit_id) for u in units], ANSWER)

    def answer(self, question: Question, query_vector: np.ndarray, hits: list[Hit]) -> Draft:
        """Choose the answer units for ``question`` among the first stage's candidates."""
        ranked = self.candidates(question, query_vector, hits)
        units = [self.index.unit(c.unit_id) for c in ranked]
        chunks = [self.index.store.chunk_of_unit(u.unit_id) for u in units]
        if self.model.orders(query_vector[None, :])[0] or question.instruction:
            related = [Candidate(u, c, 0.0) for u, c in zip(units, chunks)][:RELATED]
            return Draft([], True, 0.0, related, "instruction, not a question")
        reader_logits, logits = self.scores(question.text, ranked)
        probabilities = {u.unit_id: float(p) for u, p in zip(units, 1.0 / (1.0 + np.exp(-reader_logits)))}
        allowed = self.eligible(question, units)
        order = [i for i in np.argsort(-logits, kind="stable") if allowed[i]]
        related = [Candidate(units[i], chunks[i], float(logits[i])) for i in order[:RELATED]]
        if not order:
            return Draft([], True, 0.0, related, "no passage was retrieved that could answer", probabilities)
        confidence = self.confidence(question, logits[allowed])
        best = Candidate(units[order[0]], chunks[order[0]], float(logits[order[0]]))
        parts = self._compose(best, [Candidate(units[i], chunks[i], float(logits[i])) for i in order[1:]])
        if confidence < self.min_confidence:
            reason = f"confidence {confidence:.2f} is below {self.min_confidence:.2f}"
            return Draft([], True, confidence, related, reason, probabilities, parts)
        return Draft(parts, False, confidence, related, "", probabilities, parts)

    def eligible(self, question: Question, units: list[Unit]) -> np.ndarray:
        """Which candidates may be quoted at all (rules of text structure, not of any question).

        A heading answers only a question about titles; a unit that gives orders never answers.
        """
        if not units:
            return np.zeros(0, dtype=bool)
        headings = np.array([u.kind == "heading" for u in units])
        orders = self.model.orders(np.asarray(self.index.unit_vectors[[u.unit_id for u in units]]))
        allowed = ~orders & (headings if question.asks_title and (headings & ~orders).any() else ~headings)
        return np.asarray(allowed, dtype=bool)

    def _compose(self, best: Candidate, others: list[Candidate]) -> list[Candidate]:
        """The best unit, its list, and further units the reader is about as sure of."""
        parts = [best] + self._list_companions(best)
        chosen = {p.unit.unit_id for p in parts}
        floor = max(self.model.complement_logit, best.score - self.model.complement_margin)
        for other in others:
            if len(parts) >= self.settings.max_units:
                break
            if other.unit.unit_id not in chosen and other.score >= floor and not _overlaps(other, parts):
                parts.append(other)
                chosen.add(other.unit.unit_id)
        return _in_text_order(parts)

    def _list_companions(self, best: Candidate) -> list[Candidate]:
        """A sentence announcing a list brings the list; an item brings its list and its lead-in."""
        siblings = self.index.units_of(best.unit.chunk_id)
        if best.chunk.kind == "table":
            # An item of a list inside a table cell is part of its row too: it brings the other
            # items of its row's cells, not the whole table.
            if best.unit.kind != "item":
                return []
            row = next((u for u in siblings if u.kind == "row" and u.start <= best.unit.start and best.unit.end <= u.end), None)
            if row is None:
                return []
            return [Candidate(u, best.chunk, best.score) for u in siblings if u.kind == "item"
                    and row.start <= u.start and u.end <= row.end and u.unit_id != best.unit.unit_id]
        position = next(i for i, unit in enumerate(siblings) if unit.unit_id == best.unit.unit_id)
        items = [i for i, unit in enumerate(siblings) if unit.kind == "item"]
        announces = best.unit.kind == "sentence" and ANNOUNCES_LIST_RE.search(best.unit.text)
        if announces and position == len(siblings) - 1:
            return self._following_items(best)
        if not items:
            return []
        first, last = items[0], items[-1]
        if announces and position < first:
            chosen = siblings[position + 1 : last + 1]
        elif best.unit.kind == "item":
            lead = max((i for i in range(first) if siblings[i].kind == "sentence" and ANNOUNCES_LIST_RE.search(siblings[i].text)),
                       default=None)
            chosen = siblings[(lead if lead is not None else first) : last + 1]
        else:
            return []
        return [Candidate(u, best.chunk, best.score) for u in chosen if u.unit_id != best.unit.unit_id]

    def _following_items(self, best: Candidate) -> list[Candidate]:
        """The items of a list announced by the last sentence of a chunk, when the chunker put the
        list in the chunks after it (a lead-in followed by long bullets): the list chunks that
        follow in the same file and section, up to the first one that does not open with an item."""
        found: list[Candidate] = []
        position = self.index.store.position(best.chunk.chunk_id)
        for following in range(position + 1, min(position + 1 + FOLLOWING_LIST_CHUNKS, self.index.chunk_count)):
            chunk = self.index.chunk(following)
            if chunk.kind != "list" or chunk.path != best.chunk.path or chunk.section != best.chunk.section:
                break
            units = self.index.units_of(chunk.chunk_id)
            run = units[: next((i for i, u in enumerate(units) if u.kind != "item"), len(units))]
            found += [Candidate(u, chunk, best.score) for u in run]
            if not run or len(run) < len(units):
                break
        return found

    def probabilities_of(self, question: str, unit_ids: list[int]) -> dict[int, float]:
        """The reader's probability that each of these units answers the question (for verification)."""
        units = [self.index.unit(i) for i in unit_ids]
        return {u.unit_id: float(p) for u, p in zip(units, 1.0 / (1.0 + np.exp(-self.read(question, units))))}


def _overlaps(candidate: Candidate, parts: list[Candidate]) -> bool:
    """Whether a candidate shares text with a part already chosen (a table row and an item of
    a list in one of its cells): the same words are quoted once."""
    unit = candidate.unit
    return any(p.chunk.path == candidate.chunk.path and p.unit.start < unit.end and unit.start < p.unit.end for p in parts)


def _in_text_order(parts) -> list[Candidate]:
    return sorted(parts, key=lambda c: (c.chunk.path, c.unit.start))

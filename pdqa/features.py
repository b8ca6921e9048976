"""Answer features: numbers describing how well each candidate unit answers a question.

The learned answerer (``answer_model.py``) reads these features, at query time and in training
(``training.py``), through the same functions, so the model sees exactly what it was trained on.
Features are relative where they can be (rank, gap to the best candidate): raw scores differ
between a one-page corpus and a thousand Wikipedia paragraphs, ranks and gaps much less.

Two sets:

* ``UNIT_FEATURES``, one row per (question, candidate unit): similarity, term coverage and the
  retrieval scores of the unit's chunk, answer-type evidence, and question terms the unit or its
  chunk lacks (names, numbers, a negation) — SQuAD's unanswerable questions are mostly made by
  swapping an entity, adding a negation or an impossible condition.
* ``QUESTION_FEATURES``, one row per question, for answerability: the best unit's score and its
  margin over the next, and what the best unit and the retrieved passages lack.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .models import Chunk, Hit, Unit
from .question import KINDS, Question, gives_orders
from . import text
from .text import NUMBER_WORDS, content_terms, negated, normalise_word, numbers, words

# What saved term statistics depend on: the tokeniser and stemmer (text.py) and how a unit's
# terms are taken (this module). Statistics another version of either saved are not used.
TERMS_CODE_SHA256 = hashlib.sha256(b"".join(Path(m).read_bytes() for m in (text.__file__, __file__))).hexdigest()

UNIT_FEATURES = (
    "dense", "dense_gap", "dense_rank_inv",
    "coverage", "coverage_gap", "coverage_rank_inv", "term_share",
    "chunk_rank_inv", "chunk_bm25_rel", "chunk_dense", "chunk_dense_gap", "chunk_coverage",
    "typed", "has_number", "has_new_name",
    "names_missing_unit", "names_missing_chunk", "numbers_missing_chunk",
    "missing_weight_unit", "missing_weight_chunk", "bigram_share",
    "negation_mismatch", "events_missing",
    "position", "is_first", "log_length", "is_heading", "is_list", "gives_orders", "novelty",
)
QUESTION_FEATURES = (
    "top_score", "score_gap", "top_coverage", "top_chunk_coverage", "best_chunk_coverage",
    "top_typed", "any_typed", "top_names_missing", "top_names_missing_chunk", "top_numbers_missing",
    "top_missing_weight_unit", "top_missing_weight_chunk", "top_bigram_share",
    "question_negated", "top_negation_mismatch", "top_events_missing", "log_terms",
    "question_has_name", "question_has_number",
) + tuple(f"kind_{kind}" for kind in KINDS)
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
PROPER_RE = re.compile(r"(?<=[a-z,;:)]\s)[A-Z][a-z]+")
REASON_RE = re.compile(
    r"\b(?:aim|aims|purpose|because|in order to|so that|so as to|objective|reason|due to|to identify)\b",
    re.IGNORECASE,
)
HAS_NAME_RE = re.compile(r"(?<=[a-z,;:)]\s)(?:[A-Z][a-z]+|[A-Z]{2,})")
COUNT_WINDOW = 4  # words after a number in which the counted noun must appear
SINGLE_GAP = 5.0  # score gap given to a lone candidate


@dataclass
class Candidates:
    """The candidate units of one question and their feature rows."""

    units: list[Unit]
    chunks: list[Chunk]
    matrix: np.ndarray  # len(units) x len(UNIT_FEATURES)

    def column(self, name: str) -> np.ndarray:
        return self.matrix[:, UNIT_FEATURES.index(name)]


class FeatureExtractor:
    """Computes feature rows over one loaded index.

    Args:
        units_by_chunk: The units of each chunk, in text order.
        unit_vectors: One L2-normalised vector per unit, by ``unit_id``.
        unit_terms: The normalised terms of each unit (and its section), by ``unit_id``.
        weights: Inverse document frequencies over the units of the index.
    """

    def __init__(self, units_by_chunk, unit_vectors: np.ndarray, unit_terms: list[UnitTerms], weights: TermWeights):
        self.units_by_chunk = units_by_chunk
        self.unit_vectors = unit_vectors
        self.unit_terms = unit_terms
        self.weights = weights

    def candidates(self, question: Question, query_vector: np.ndarray, hits: list[Hit], chunks: dict) -> Candidates:
        """Every unit of the retrieved chunks, with its feature row."""
        units = [u for hit in hits for u in self.units_by_chunk.get(hit.chunk_id, [])]
        owners = [chunks[u.chunk_id] for u in units]
        if not units:
            return Candidates([], [], np.zeros((0, len(UNIT_FEATURES)), dtype=np.float32))
        dense = self.unit_vectors[[u.unit_id for u in units]] @ query_vector
        held = np.array([coverage(question, self.unit_terms[u.unit_id], self.weights) for u in units])
        by_chunk = {hit.chunk_id: (rank, hit) for rank, hit in enumerate(hits, start=1)}
        chunk_terms = {h.chunk_id: self._chunk_terms(h.chunk_id) for h in hits}
        chunk_cover = {cid: coverage(question, terms, self.weights) for cid, terms in chunk_terms.items()}
        retrieved = [chunks[hit.chunk_id] for hit in hits]
        context = _Context(question, dense, held, by_chunk, chunk_cover, chunk_terms, retrieved, hits)
        rows = [self._row(context, i, unit, owners[i]) for i, unit in enumerate(units)]
        return Candidates(units, owners, np.array(rows, dtype=np.float32))

    def _chunk_terms(self, chunk_id: str) -> UnitTerms:
        terms = UnitTerms(frozenset(), frozenset())
        for unit in self.units_by_chunk.get(chunk_id, []):
            terms = terms | self.unit_terms[unit.unit_id]
        return terms

    def _missing_weight(self, question: Question, held: frozenset[str]) -> float:
        """The heaviest question term the text lacks, as a share of the heaviest term.

        One rare term missing (a swapped entity, an unasked-for condition) is what makes many
        unanswerable questions unanswerable, however many common terms the passage shares.
        """
        if not question.terms:
            return 0.0
        weights = {t: self.weights.weight(t) for t in question.terms}
        missing = [w for t, w in weights.items() if not _held(t, held)]
        return max(missing, default=0.0) / max(max(weights.values()), 1e-9)

    def _row(self, context: _Context, i: int, unit: Unit, chunk: Chunk) -> list[float]:
        question = context.question
        rank, hit = context.by_chunk[unit.chunk_id]
        siblings = self.units_by_chunk[unit.chunk_id]
        position = siblings.index(unit)
        unit_words = set(words(unit.text))
        chunk_words = context.chunk_words[unit.chunk_id]
        own = self.unit_terms[unit.unit_id]
        unit_terms = own.text
        in_chunk = context.chunk_terms[unit.chunk_id]
        return [
            context.dense[i], context.dense_best - context.dense[i], 1.0 / context.dense_rank[i],
            context.held[i], context.held_best - context.held[i], 1.0 / context.held_rank[i],
            _share(question.terms, unit_terms),
            1.0 / rank, context.bm25_rel(hit), hit.dense_score or 0.0,
            context.chunk_dense_best - (hit.dense_score or 0.0), context.chunk_cover[unit.chunk_id],
            float(holds_answer_type(question, unit.text, chunk.title)),
            float(bool(numbers(unit.text))), float(_has_new_name(unit.text, question)),
            _missing_share(question.names, unit_words), _missing_share(question.names, chunk_words),
            _missing_share(question.numbers, unit_words | context.chunk_numbers[unit.chunk_id]),
            self._missing_weight(question, unit_terms | own.section),
            self._missing_weight(question, in_chunk.text | in_chunk.section),
            _bigram_share(context.question_pairs, unit.text),
            float(question.negated != negated(unit.text)),
            _missing_share(question.events, unit_terms | own.section),
            position / max(len(siblings) - 1, 1), float(position == 0 or (siblings[0].kind == "heading" and position == 1)),
            math.log1p(len(unit_words)), float(unit.kind == "heading"), float(unit.kind == "list"),
            float(gives_orders(unit.text)), _novelty(question, unit_terms),
        ]


def question_row(question: Question, found: Candidates, scores: np.ndarray) -> np.ndarray:
    """Answerability features of a question, from its candidates and their unit scores."""
    values = dict.fromkeys(QUESTION_FEATURES, 0.0)
    values.update(question_facts(question))
    allowed = np.flatnonzero(np.isfinite(scores))
    if len(allowed):
        order = allowed[np.argsort(-scores[allowed])]
        top = order[0]
        # With a single candidate, the gap is that of a clear winner.
        second = scores[order[1]] if len(order) > 1 else scores[top] - SINGLE_GAP
        column = found.column
        values.update(
            top_score=float(scores[top]), score_gap=float(scores[top] - second),
            top_coverage=float(column("coverage")[top]),
            top_chunk_coverage=float(column("chunk_coverage")[top]),
            best_chunk_coverage=float(column("chunk_coverage").max()),
            top_typed=float(column("typed")[top]), any_typed=float(column("typed").max()),
            top_names_missing=float(column("names_missing_unit")[top]),
            top_names_missing_chunk=float(column("names_missing_chunk")[top]),
            top_numbers_missing=float(column("numbers_missing_chunk")[top]),
            top_missing_weight_unit=float(column("missing_weight_unit")[top]),
            top_missing_weight_chunk=float(column("missing_weight_chunk")[top]),
            top_bigram_share=float(column("bigram_share")[top]),
            top_negation_mismatch=float(column("negation_mismatch")[top]),
            top_events_missing=float(column("events_missing")[top]),
        )
    return np.array([values[name] for name in QUESTION_FEATURES], dtype=np.float32)


def question_facts(question: Question) -> dict[str, float]:
    """The features of a question that do not depend on any passage."""
    facts = {
        "question_negated": float(question.negated),
        "log_terms": math.log1p(len(question.terms)),
        "question_has_name": float(bool(question.names)),
        "question_has_number": float(bool(question.numbers)),
    }
    facts[f"kind_{question.kind}"] = 1.0
    return facts


class _Context:
    """Per-question arrays that every candidate's row compares itself with."""

    def __init__(
        self, question, dense, held, by_chunk, chunk_cover, chunk_terms, retrieved: list[Chunk], hits: list[Hit]
    ):
        self.question = question
        self.dense, self.held = dense, held
        self.dense_best, self.held_best = float(dense.max()), float(held.max())
        self.dense_rank = _ranks(dense)
        self.held_rank = _ranks(held)
        self.by_chunk = by_chunk
        self.chunk_cover = chunk_cover
        self.chunk_terms = chunk_terms
        self.question_pairs = _term_pairs(question.text)
        # Per chunk, not per unit: every unit of a chunk compares itself with the same words.
        self.chunk_words = {c.chunk_id: set(words(f"{c.text} {c.section} {c.title}")) for c in retrieved}
        self.chunk_numbers = {c.chunk_id: set(numbers(c.text)) for c in retrieved}
        self.bm25_best = max((h.bm25_score or 0.0) for h in hits)
        self.chunk_dense_best = max((h.dense_score or 0.0) for h in hits)

    def bm25_rel(self, hit: Hit) -> float:
        return (hit.bm25_score or 0.0) / self.bm25_best if self.bm25_best > 0 else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    """1-based rank of each value, best (highest) first; ties share the better rank."""
    return np.array([1 + int(np.sum(values > v)) for v in values], dtype=np.float32)


def _share(terms, held) -> float:
    return sum(1 for t in terms if t in held) / len(terms) if terms else 0.0


def _missing_share(terms, held) -> float:
    return sum(1 for t in terms if t not in held) / len(terms) if terms else 0.0


def _has_new_name(text: str, question: Question) -> bool:
    asked = set(words(question.text))
    return any(name.lower() not in asked for name in HAS_NAME_RE.findall(text))


def _term_pairs(text: str) -> set[tuple[str, str]]:
    """Neighbouring pairs of a text's content terms."""
    terms = content_terms(text)
    return set(zip(terms, terms[1:]))


def _bigram_share(pairs: set[tuple[str, str]], text: str) -> float:
    """Share of the question's neighbouring term pairs that stand side by side in the text too."""
    if not pairs:
        return 0.0
    return len(pairs & _term_pairs(text)) / len(pairs)


def _novelty(question: Question, unit_terms) -> float:
    """Share of a unit's terms the question does not hold: an answer says something new."""
    if not unit_terms:
        return 0.0
    return len(set(unit_terms) - set(question.terms)) / len(unit_terms)


def holds_answer_type(question: Question, text: str, title: str = "") -> bool:
    """Whether ``text`` contains the kind of thing the question asks for.

    The document's own title ("Innovation in Action") is not a name that answers "who".
    """
    own = set(words(title))
    check = {
        "who": lambda: any(name.lower() not in own for name in HAS_NAME_RE.findall(text)),
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


SECTION_SHARE = 0.5


@dataclass(frozen=True)
class UnitTerms:
    """Normalised terms of a unit's own text and of its section heading."""

    text: frozenset[str]
    section: frozenset[str]

    def __or__(self, other: UnitTerms) -> UnitTerms:
        return UnitTerms(self.text | other.text, self.section | other.section)


def unit_terms_of(unit: Unit, chunk: Chunk) -> UnitTerms:
    """The terms of a unit and of its chunk's section heading."""
    # The section heading counts too: a notice's heading names what its paragraphs are about.
    return UnitTerms(frozenset(content_terms(unit.text)), frozenset(content_terms(chunk.section)))


class LazyUnitTerms:
    """The terms of each unit by ``unit_id``, taken when first asked for.

    Taking every unit's terms when an index was loaded cost 0.7 s at 10,000 units (bench/scale.py's
    corpus); a question looks at the units of its retrieved chunks only.
    """

    def __init__(self, units: list[Unit], chunk_by_id: Mapping[str, Chunk]):
        self._units = units
        self._chunk_by_id = chunk_by_id
        self._known: dict[int, UnitTerms] = {}

    def __len__(self) -> int:
        return len(self._units)

    def __getitem__(self, unit_id: int) -> UnitTerms:
        terms = self._known.get(unit_id)
        if terms is None:
            unit = self._units[unit_id]
            terms = self._known[unit_id] = unit_terms_of(unit, self._chunk_by_id[unit.chunk_id])
        return terms


class TermWeights:
    """Inverse document frequency of terms over the answer units of an index.

    A term that appears nowhere gets the highest weight: a question about something the corpus
    never mentions should not be answered from a passage that merely shares its common words.
    The build saves the counts with the index (:meth:`save`), so a load need not read every unit.

    Args:
        size: How many units were counted.
        document_frequency: In how many of them each term occurs.
    """

    def __init__(self, size: int, document_frequency: Mapping[str, int]):
        self.size = size
        self.document_frequency = document_frequency

    @classmethod
    def of(cls, unit_terms: Iterable[UnitTerms]) -> TermWeights:
        """Count the terms of every unit."""
        counts: Counter[str] = Counter()
        size = 0
        for terms in unit_terms:
            counts.update(terms.text)
            size += 1
        return cls(size, counts)

    def weight(self, term: str) -> float:
        frequency = self.document_frequency.get(term, 0)
        return math.log((self.size + 1) / (frequency + 0.5))

    def save(self, path: Path) -> None:
        """Write the counts as JSON, with the hash of the code that took the terms."""
        record = {"code_sha256": TERMS_CODE_SHA256, "units": self.size, "document_frequency": self.document_frequency}
        path.write_text(json.dumps(record, ensure_ascii=False, sort_keys=True), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TermWeights | None:
        """The counts :meth:`save` wrote, or None when they are missing or other code took them."""
        if not path.is_file():
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("code_sha256") != TERMS_CODE_SHA256:
            return None
        return cls(record["units"], record["document_frequency"])


def coverage(question: Question, terms: UnitTerms, weights: TermWeights) -> float:
    """Weighted share of the question's terms that a unit holds (0.0 when the question has none).

    A term found only in the unit's section heading counts half: the heading says what the
    passage is about, not what it states.
    """
    if not question.terms:
        return 0.0
    total = sum(weights.weight(t) for t in question.terms)
    held = sum(weights.weight(t) * _held_share(t, terms) for t in question.terms)
    return held / total if total > 0 else 0.0


def _held_share(term: str, terms: UnitTerms) -> float:
    if _held(term, terms.text):
        return 1.0
    return SECTION_SHARE if _held(term, terms.section) else 0.0


def _held(term: str, unit_terms: set[str]) -> bool:
    if term in unit_terms:
        return True
    # Stems of one family can still differ ("commission" vs "commiss"): accept a long shared prefix.
    return len(term) >= 6 and any(len(u) >= 6 and u[:6] == term[:6] for u in unit_terms)

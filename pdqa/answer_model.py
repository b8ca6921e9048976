"""The answer stage's small models, stored as JSON and scored in numpy (no model library on the query path).

* ``choice``: a logistic regression that ranks a question's candidates: the reader's logit,
  with whichever of the first stage's signals (fused score, rank, cosine, BM25 rank, passage
  rank) still add to it on validation data;
* ``answerable``: a logistic regression over what the reader said about a question's candidates
  (its best logit, the margin to the next, how many it believes) and a few facts of the question
  itself; Platt scaling turns it into ``confidence``, the probability that pdqa's answer is right.
* ``injection``: a logistic regression over a text's MiniLM vector that tells a passage (or a
  question) giving orders to a reader or a model (a prompt injection) from one stating facts.
* the thresholds chosen with them on validation data: ``min_confidence`` (abstain below), the
  reader logit a further unit needs to join an answer, ``injection_threshold``.

``pdqa train answerer`` writes the file (``pdqa/answerer/model.json``) and its card.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import BackendUnavailable
from .question import KINDS, Question

MODEL_PATH = Path(__file__).resolve().parent / "answerer" / "model.json"
FORMAT = 2
# The features the answerability model may read, by name (a model lists those it uses; rows are
# built by name, never by position).
# Per candidate unit (the choice model); the reader's logit is always one of them.
UNIT_FEATURES = ("reader_logit", "first_stage", "first_rank_inv", "dense", "bm25_rank_inv", "chunk_rank_inv")
READER_FEATURES = ("top_logit", "margin", "believed", "second_logit")
QUESTION_FEATURES = ("question_negated", "log_terms", "question_has_name", "question_has_number") + tuple(
    f"kind_{kind}" for kind in KINDS
)
ALL_FEATURES = READER_FEATURES + QUESTION_FEATURES
SINGLE_MARGIN = 5.0  # the margin given to a lone candidate


class LinearModel(BaseModel):
    """A standardised logistic regression: ``((x - mean) / scale) @ weights + bias``."""

    model_config = ConfigDict(extra="forbid")
    features: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float

    def logits(self, matrix: np.ndarray) -> np.ndarray:
        """One logit per row of ``matrix`` (columns in ``features`` order)."""
        standard = (np.asarray(matrix, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return standard @ np.asarray(self.weights) + self.bias


class Platt(BaseModel):
    """Platt scaling: ``p = 1 / (1 + exp(-(a * logit + b)))``."""

    model_config = ConfigDict(extra="forbid")
    a: float
    b: float

    def probability(self, logit: float) -> float:
        return float(self.probabilities(np.array([logit]))[0])

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(self.a * np.asarray(logits) + self.b)))


class AnswerModel(BaseModel):
    """Everything the extractive answerer decides with besides the reader."""

    model_config = ConfigDict(extra="forbid")
    format: int = FORMAT
    choice: LinearModel = Field(description="Ranks a question's candidates; its logit is what 'top_logit' and the composition read.")
    answerable: LinearModel
    calibration: Platt
    min_confidence: float = Field(description="Abstention threshold chosen on the validation data.")
    complement_logit: float = Field(description="Lowest reader logit of a further unit that joins an answer.")
    complement_margin: float = Field(description="Most a further unit's logit may fall short of the best one's.")
    injection: LinearModel = Field(description="Orders (prompt injection) against facts, over a text's MiniLM vector.")
    injection_threshold: float = Field(description="Probability above which a text gives orders.")
    reader_sha256: str = Field(default="", description="The reader the thresholds were chosen with.")
    trained: dict = Field(default_factory=dict, description="Data files, seeds and validation figures.")

    def unit_scores(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """The choice model's logit for each candidate, its columns taken by name."""
        if not len(values["reader_logit"]):
            return np.zeros(0)
        return self.choice.logits(np.column_stack([values[name] for name in self.choice.features]))

    def question_row(self, question: Question, logits: np.ndarray) -> np.ndarray:
        """The answerability model's input for a question, its columns taken by name."""
        values = question_values(question, logits)
        return np.array([values[name] for name in self.answerable.features], dtype=np.float64)

    def confidence(self, row: np.ndarray) -> float:
        """Calibrated probability that the answer built from the best unit is right."""
        return self.calibration.probability(float(self.answerable.logits(row[None, :])[0]))

    def orders_probability(self, vectors: np.ndarray) -> np.ndarray:
        """P(gives orders) for each row of ``vectors`` (unit-length MiniLM vectors)."""
        if not len(vectors):
            return np.zeros(0)
        return 1.0 / (1.0 + np.exp(-self.injection.logits(vectors)))

    def orders(self, vectors: np.ndarray) -> np.ndarray:
        """Which rows of ``vectors`` give orders (a prompt injection), at the chosen threshold."""
        return self.orders_probability(vectors) >= self.injection_threshold


def unit_values(candidates, reader_logits: np.ndarray) -> dict[str, np.ndarray]:
    """Every choice feature of a question's candidates (``retrieval.UnitCandidate``, first-stage order), by name."""
    count = len(candidates)
    return {
        "reader_logit": np.asarray(reader_logits, dtype=np.float64),
        "first_stage": np.array([c.score for c in candidates], dtype=np.float64),
        "first_rank_inv": 1.0 / np.arange(1, count + 1, dtype=np.float64),
        "dense": np.array([c.dense for c in candidates], dtype=np.float64),
        "bm25_rank_inv": np.array([1.0 / c.bm25_rank if c.bm25_rank else 0.0 for c in candidates], dtype=np.float64),
        "chunk_rank_inv": np.array([1.0 / c.chunk_rank if c.chunk_rank else 0.0 for c in candidates], dtype=np.float64),
    }


def question_values(question: Question, logits: np.ndarray) -> dict[str, float]:
    """Every answerability feature of a question, by name, from the reader's logits of its allowed candidates."""
    ordered = np.sort(np.asarray(logits, dtype=np.float64))[::-1]
    top = float(ordered[0]) if len(ordered) else -10.0
    second = float(ordered[1]) if len(ordered) > 1 else top - SINGLE_MARGIN
    values = dict.fromkeys(ALL_FEATURES, 0.0)
    values.update(
        top_logit=top,
        second_logit=second,
        margin=top - second,
        believed=float(np.sum(ordered > 0.0)),
        question_negated=float(question.negated),
        log_terms=math.log1p(len(question.terms)),
        question_has_name=float(bool(question.names)),
        question_has_number=float(bool(question.numbers)),
    )
    values[f"kind_{question.kind}"] = 1.0
    return values


def model_sha256(path: Path = MODEL_PATH) -> str:
    """Hash of the model file, recorded in eval reports ("" when there is none yet)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


def read_model_file(kind: type[BaseModel], path: Path, what: str, command: str):
    """A model file read and validated as ``kind``, or a BackendUnavailable naming ``command``."""
    try:
        return kind.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError) as exc:
        raise BackendUnavailable(f"cannot read the {what} {path}", hint=f"Reinstall pdqa, or retrain it with `{command}`.") from exc


@lru_cache(maxsize=4)
def load_answer_model(path: Path = MODEL_PATH) -> AnswerModel:
    """Read and validate the model file.

    Raises:
        BackendUnavailable: The file is missing or not a valid model of this format.
    """
    model = read_model_file(AnswerModel, path, "answer model", "pdqa train answerer")
    if model.format != FORMAT:
        raise BackendUnavailable(f"the answer model {path} is of format {model.format}, not {FORMAT}",
                                 hint="Retrain it with `pdqa train answerer`.")
    return model

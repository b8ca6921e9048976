"""The learned answerer's model: a unit scorer and an answerability model, stored as JSON.

Both are logistic regressions over the features of ``features.py`` (standardised with the
training set's mean and scale), so the query path scores them with one matrix product in
numpy: no model library is imported to answer a question. ``training.py`` writes the file;
``pdqa/answerer/MODEL_CARD.md`` says what it was trained on and how well it did.

* The unit scorer gives each candidate unit a logit: how likely it holds the answer.
* The answerability model gives the question a logit from its best unit's score and what the
  retrieved passages lack; Platt scaling fitted on validation articles turns it into
  ``confidence``, the probability that pdqa's answer is right.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import BackendUnavailable

MODEL_PATH = Path(__file__).resolve().parent / "answerer" / "model.json"


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
        standard = (matrix - np.asarray(self.mean)) / np.asarray(self.scale)
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
    """Everything the extractive answerer needs to choose units and decide to abstain."""

    model_config = ConfigDict(extra="forbid")
    format: int = 1
    unit: LinearModel
    answerable: LinearModel
    calibration: Platt
    min_confidence: float = Field(description="Abstention threshold chosen on the validation articles.")
    trained: dict = Field(default_factory=dict, description="Data files, seeds and validation figures.")

    def confidence(self, question_row: np.ndarray) -> float:
        """Calibrated probability that the answer built from the best unit is right."""
        return self.calibration.probability(float(self.answerable.logits(question_row[None, :])[0]))


def model_sha256(path: Path = MODEL_PATH) -> str:
    """Hash of the model file, recorded in index manifests and eval reports ("" when there is none yet)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


@lru_cache(maxsize=4)
def load_answer_model(path: Path = MODEL_PATH) -> AnswerModel:
    """Read and validate the model file.

    Raises:
        BackendUnavailable: The file is missing or not a valid model.
    """
    try:
        return AnswerModel.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, ValidationError) as exc:
        raise BackendUnavailable(
            f"cannot read the answer model {path}",
            hint="Reinstall pdqa, or retrain it with `pdqa train answerer`.",
        ) from exc

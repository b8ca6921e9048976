"""Fitting a corpus's calibration (``pdqa calibrate``): see :mod:`pdqa.calibration`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..answer_model import Platt
from ..calibration import CorpusCalibration, Fit, logit
from ..errors import InvalidSetting
from . import metrics

MIN_QUESTIONS = 30  # fewer labelled questions than this say too little about a corpus's confidence
MIN_OUTCOMES = 5  # right and wrong answers each, so that the scaling has something to fit


def fit_calibration(confidences: Sequence[float], right: Sequence[bool], answerable: Sequence[bool],
                    model_sha256: str, model_threshold: float, gold: str, split: str) -> CorpusCalibration:
    """Fit the scaling and threshold on one corpus's labelled questions.

    Args:
        confidences: The answer model's confidence in the answer it would give each question.
        right: Whether that answer is right (never, for an unanswerable question).
        answerable: Whether each question is answerable.
        model_threshold: The answer model's own threshold (what the "before" figures are read at).

    Raises:
        InvalidSetting: Too few questions, or no right or no wrong answers among them.
    """
    p = np.asarray(confidences, dtype=np.float64)
    y = np.asarray(right, dtype=bool)
    a = np.asarray(answerable, dtype=bool)
    if len(p) < MIN_QUESTIONS:
        raise InvalidSetting(f"{len(p)} questions are too few to calibrate on",
                             f"Label at least {MIN_QUESTIONS} questions about the corpus, answerable and unanswerable.")
    if y.sum() < MIN_OUTCOMES or (~y).sum() < MIN_OUTCOMES:
        raise InvalidSetting(f"{int(y.sum())} right and {int((~y).sum())} wrong answers are too few to calibrate on",
                             f"Label more questions: at least {MIN_OUTCOMES} of each are needed.")
    scaling = _platt(logit(p), y)
    q = scaling.probabilities(logit(p))
    before_t = model_threshold
    after_t = _threshold(q, y, a)
    return CorpusCalibration(
        answer_model_sha256=model_sha256, scaling=scaling, min_confidence=round(after_t, 6), gold=gold, split=split,
        questions=len(p), answerable=int(a.sum()),
        before=Fit(overall_accuracy=_overall(p, y, a, before_t), ece=metrics.expected_calibration_error(list(p), list(y)),
                   threshold=round(before_t, 6)),
        after=Fit(overall_accuracy=_overall(q, y, a, after_t), ece=metrics.expected_calibration_error(list(q), list(y)),
                  threshold=round(after_t, 6)),
    )


def _platt(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 100) -> Platt:
    """Logistic regression of y on x (two parameters) by Newton's method, with a little L2 on the slope.

    Written in numpy rather than calling ``training.fit_platt``: that uses scikit-learn, which is
    in the ``train`` extra, and ``pdqa calibrate`` is a command of the core install."""
    w = np.zeros(2)  # slope, intercept
    design = np.stack([x, np.ones_like(x)], axis=1)
    target = y.astype(np.float64)
    for _ in range(steps):
        z = design @ w
        prob = 1.0 / (1.0 + np.exp(-z))
        gradient = design.T @ (prob - target) + l2 * np.array([w[0], 0.0])
        hessian = (design * (prob * (1 - prob))[:, None]).T @ design + l2 * np.diag([1.0, 0.0]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return Platt(a=float(w[0]), b=float(w[1]))


def _overall(scores: np.ndarray, right: np.ndarray, answerable: np.ndarray, threshold: float) -> float:
    answered = scores >= threshold
    return float(np.where(answerable, answered & right, ~answered).mean())


def _threshold(scores: np.ndarray, right: np.ndarray, answerable: np.ndarray) -> float:
    """The threshold with the best overall accuracy (:func:`metrics.best_threshold`), halfway below
    the lowest score it answers (so that a question scored a hair lower than the one at the edge is
    treated alike)."""
    best, _ = metrics.best_threshold(list(scores[answerable]), list(scores[~answerable]), list(right[answerable]))
    if best == -np.inf:  # answer every question
        return 0.0
    if best == np.inf:  # answer none
        return 1.0
    lower = scores[scores < best]
    return float(min(1.0, (best + (lower.max() if lower.size else 0.0)) / 2))

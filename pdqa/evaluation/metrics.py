"""Pure metric functions: answer text, citations, retrieval, intervals and abstention.

Every function here is deterministic and free of I/O so that scores can be
recomputed from saved predictions alone. Character spans are half-open
``[start, end)`` offsets, matching ``Chunk.text == file_text[start:end]``.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter

import numpy as np
from pydantic import BaseModel, ConfigDict

from ..text import MARKER_RE

# z for a two-sided 95% interval: the 0.975 quantile of the standard normal.
Z_95 = 1.959963984540054

# Citation markers such as "[1]", "[2][3]" or "[1, 4]" are formatting, not
# content, so they must not cost a prediction its exact match.
_ARTICLE = re.compile(r"\b(?:a|an|the)\b")
_EXTRA_PUNCTUATION = frozenset("‘’“”•")


# --------------------------------------------------------------------------
# Answer text
# --------------------------------------------------------------------------


def _is_punctuation(char: str) -> bool:
    # ASCII punctuation keeps SQuAD's behaviour (it includes symbols like "$");
    # the Unicode "P*" categories add curly quotes, dashes and bullets.
    return (
        char in string.punctuation
        or char in _EXTRA_PUNCTUATION
        or unicodedata.category(char).startswith("P")
    )


def normalize_answer(text: str, punctuation_to_space: bool = False) -> str:
    """Normalise answer text the SQuAD way, after dropping citation markers.

    Steps: strip citation markers like ``[1]``, lowercase, delete punctuation,
    delete the articles a/an/the and collapse runs of whitespace, non-breaking
    spaces included, to single spaces.

    Args:
        text: Raw answer or gold text.
        punctuation_to_space: Turn punctuation into a space instead of deleting it, so that
            words joined by a dash ("Adriatic—fell") stay separate words.

    Returns:
        The normalised text; empty when nothing but noise was given.
    """
    lowered = MARKER_RE.sub(" ", text).lower()
    # Deleting (not spacing) punctuation follows SQuAD: "e-mail" -> "email".
    gap = " " if punctuation_to_space else ""
    without_punctuation = "".join(gap if _is_punctuation(ch) else ch for ch in lowered)
    without_articles = _ARTICLE.sub(" ", without_punctuation)
    # str.split() with no argument also splits on U+00A0 (non-breaking space).
    return " ".join(without_articles.split())


def _answers_nothing(prediction: str) -> float:
    # With no gold answer the question is unanswerable: only an empty
    # (abstaining) prediction is right.
    return 1.0 if normalize_answer(prediction) == "" else 0.0


def exact_match(prediction: str, golds: list[str]) -> float:
    """Score 1.0 when the prediction equals any gold after normalisation.

    Args:
        prediction: The system's answer.
        golds: Acceptable answers; empty means the question is unanswerable.

    Returns:
        1.0 or 0.0. With no golds, 1.0 exactly when the prediction is empty
        after normalisation.
    """
    if not golds:
        return _answers_nothing(prediction)
    normalized_prediction = normalize_answer(prediction)
    return float(any(normalized_prediction == normalize_answer(gold) for gold in golds))


def _f1_against_one(prediction_tokens: list[str], gold_tokens: list[str]) -> float:
    if not prediction_tokens or not gold_tokens:
        # SQuAD: if either side is empty, F1 is 1 only when both are.
        return float(prediction_tokens == gold_tokens)
    overlap = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(prediction_tokens)
    recall = overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: list[str]) -> float:
    """SQuAD token-level F1 of the prediction against its best-matching gold.

    Args:
        prediction: The system's answer.
        golds: Acceptable answers; empty means the question is unanswerable.

    Returns:
        The maximum F1 over golds, in [0, 1]. With no golds, 1.0 exactly when
        the prediction is empty after normalisation.
    """
    if not golds:
        return _answers_nothing(prediction)
    prediction_tokens = normalize_answer(prediction).split()
    return max(_f1_against_one(prediction_tokens, normalize_answer(gold).split()) for gold in golds)


def _contains_phrase(normalized_text: str, phrase: str) -> bool:
    normalized_phrase = normalize_answer(phrase, punctuation_to_space=True)
    if not normalized_phrase:
        # An empty phrasing would match every answer and prove nothing.
        return False
    # Padding with spaces enforces word boundaries: "cat" must not match "cats".
    return f" {normalized_phrase} " in f" {normalized_text} "


def fact_recall(answer_text: str, facts: list[list[str]]) -> tuple[float, list[int]]:
    """Share of required facts that the answer states, and which ones it misses.

    A fact counts as stated when at least one of its phrasings occurs in the
    normalised answer as a whole-word phrase. Punctuation becomes a space on both
    sides, so "Adriatic—fell" contains "Adriatic".

    Args:
        answer_text: The system's answer.
        facts: One list of alternative phrasings per required fact.

    Returns:
        ``(recall, missing)`` where ``missing`` holds the indices of facts not
        found, in order. With no facts, ``(1.0, [])``.
    """
    if not facts:
        return 1.0, []
    normalized_answer = normalize_answer(answer_text, punctuation_to_space=True)
    missing = [
        index
        for index, phrasings in enumerate(facts)
        if not any(_contains_phrase(normalized_answer, phrasing) for phrasing in phrasings)
    ]
    return (len(facts) - len(missing)) / len(facts), missing


# --------------------------------------------------------------------------
# Citations
# --------------------------------------------------------------------------


def spans_overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Whether two half-open character spans share at least one character.

    Args:
        a_start: Start of the first span.
        a_end: End (exclusive) of the first span.
        b_start: Start of the second span.
        b_end: End (exclusive) of the second span.

    Returns:
        True when the spans overlap; empty spans overlap nothing and spans
        that merely touch (``a_end == b_start``) do not overlap.
    """
    both_non_empty = a_start < a_end and b_start < b_end
    return both_non_empty and a_start < b_end and b_start < a_end


def _occurrences(file_text: str, needle: str) -> list[tuple[int, int]]:
    spans = []
    start = file_text.find(needle)
    while start != -1:
        spans.append((start, start + len(needle)))
        # Step by one character so that overlapping occurrences are kept.
        start = file_text.find(needle, start + 1)
    return spans


def evidence_spans(file_text: str, evidence_texts: list[str]) -> list[tuple[int, int]]:
    """Every occurrence of every evidence string in a file, as character spans.

    Args:
        file_text: Full text of one corpus file.
        evidence_texts: Exact evidence strings expected in that file.

    Returns:
        Distinct half-open ``(start, end)`` spans sorted by position. Empty
        evidence strings are ignored because they would match everywhere.
    """
    spans = {
        span
        for evidence in evidence_texts
        if evidence
        for span in _occurrences(file_text, evidence)
    }
    return sorted(spans)


# --------------------------------------------------------------------------
# Retrieval
# --------------------------------------------------------------------------


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _check_n_relevant_total(n_relevant_total: int) -> None:
    # A question without evidence has no defined recall or nDCG; callers
    # should leave it out of retrieval metrics rather than score it.
    if n_relevant_total < 1:
        raise ValueError(f"n_relevant_total must be at least 1, got {n_relevant_total}")


def hit_rate_at_k(relevant: list[bool], k: int) -> float:
    """Score 1.0 when any of the top ``k`` retrieved chunks is relevant.

    Args:
        relevant: Relevance of each retrieved chunk, best-ranked first.
        k: Cut-off rank, at least 1.

    Returns:
        1.0 or 0.0.
    """
    _check_k(k)
    return float(any(relevant[:k]))


def recall_at_k(found_at: list[int | None], k: int) -> float:
    """Share of a question's evidence spans held by a chunk ranked ``k`` or better.

    Args:
        found_at: For each evidence span, the best rank of a retrieved chunk holding it
            (None when no retrieved chunk holds it).
        k: Cut-off rank, at least 1.

    Returns:
        Spans found within the top ``k`` divided by the number of spans.
    """
    _check_k(k)
    _check_n_relevant_total(len(found_at))
    return sum(1 for rank in found_at if rank is not None and rank <= k) / len(found_at)


def mrr_at_k(relevant: list[bool], k: int = 10) -> float:
    """Reciprocal rank of the first relevant chunk within the top ``k``.

    Args:
        relevant: Relevance of each retrieved chunk, best-ranked first.
        k: Cut-off rank, at least 1.

    Returns:
        ``1 / rank`` of the first relevant chunk (ranks start at 1), or 0.0
        when none of the top ``k`` is relevant.
    """
    _check_k(k)
    for rank, is_relevant in enumerate(relevant[:k], start=1):
        if is_relevant:
            return 1.0 / rank
    return 0.0


def _dcg(gains: list[bool]) -> float:
    # Rank r (from 1) is discounted by log2(r + 1).
    return sum(1.0 / math.log2(rank + 1) for rank, gain in enumerate(gains, start=1) if gain)


def ndcg_at_k(relevant: list[bool], k: int = 10, *, n_relevant_total: int) -> float:
    """Normalised discounted cumulative gain with binary gains.

    Args:
        relevant: Relevance of each retrieved chunk, best-ranked first.
        k: Cut-off rank, at least 1.
        n_relevant_total: Number of relevant items that exist, at least 1.

    Returns:
        DCG of the top ``k`` divided by the ideal DCG of
        ``min(n_relevant_total, k)`` relevant items at the top, capped at 1.0
        because more chunks than distinct evidence spans may be relevant.
    """
    _check_k(k)
    _check_n_relevant_total(n_relevant_total)
    ideal_dcg = _dcg([True] * min(n_relevant_total, k))
    return min(1.0, _dcg(relevant[:k]) / ideal_dcg)


# --------------------------------------------------------------------------
# Intervals and aggregation
# --------------------------------------------------------------------------


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Args:
        successes: Number of successes, between 0 and ``n``.
        n: Number of trials.
        z: Standard-normal quantile; the default gives a 95% interval.

    Returns:
        ``(low, high)`` within [0, 1]; ``(0.0, 1.0)`` when ``n == 0`` since
        no trials say nothing about the rate.
    """
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    proportion = successes / n
    z_squared = z * z
    denominator = 1 + z_squared / n
    center = (proportion + z_squared / (2 * n)) / denominator
    half_width = z * math.sqrt(proportion * (1 - proportion) / n + z_squared / (4 * n * n)) / denominator
    # The bounds are exactly 0 and 1 at 0/n and n/n; pin them there because
    # rounding would otherwise give values like 0.9999999999999999.
    low = 0.0 if successes == 0 else max(0.0, center - half_width)
    high = 1.0 if successes == n else min(1.0, center + half_width)
    return low, high


class Rate(BaseModel):
    """A success rate with its 95% Wilson interval."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float | None
    successes: int
    n: int
    low: float
    high: float

    @classmethod
    def of(cls, successes: int, n: int) -> Rate:
        """Build a rate from counts.

        Args:
            successes: Number of successes, between 0 and ``n``.
            n: Number of trials.

        Returns:
            The rate; ``value`` is None when ``n == 0``.
        """
        low, high = wilson_interval(successes, n)
        value = successes / n if n else None
        return cls(value=value, successes=successes, n=n, low=low, high=high)


class Mean(BaseModel):
    """The average of a non-binary per-question metric such as F1, MRR or nDCG."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float | None
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Mean:
        """Average a list of per-question scores.

        Args:
            values: One score per question.

        Returns:
            The mean; ``value`` is None when ``values`` is empty.
        """
        # fsum avoids drift when many small scores are added.
        value = math.fsum(values) / len(values) if values else None
        return cls(value=value, n=len(values))


# --------------------------------------------------------------------------
# Abstention sweep
# --------------------------------------------------------------------------


def _as_scores(scores: list[float], name: str) -> np.ndarray:
    array = np.asarray(scores, dtype=float)
    # NaN compares false with every threshold and would silently abstain.
    if np.isnan(array).any():
        raise ValueError(f"{name} contains NaN")
    return array


def _candidate_thresholds(answerable: np.ndarray, unanswerable: np.ndarray) -> np.ndarray:
    # -inf answers everything and +inf abstains on everything, so both
    # extremes are always considered.
    observed = np.concatenate([answerable, unanswerable, [-np.inf, np.inf]])
    return np.unique(observed)


def _share(count: int, total: int) -> float | None:
    return count / total if total else None


def sweep(
    scores_answerable: list[float],
    scores_unanswerable: list[float],
    correct_if_answered: list[bool],
) -> list[dict]:
    """Abstention behaviour at every candidate confidence threshold.

    At threshold ``t`` the system answers when its score is ``>= t`` and
    abstains otherwise. An answerable question is correct when answered and
    ``correct_if_answered`` holds; an unanswerable one when abstained.

    Args:
        scores_answerable: Confidence per answerable question.
        scores_unanswerable: Confidence per unanswerable question.
        correct_if_answered: Whether each answerable question's answer is
            right, aligned with ``scores_answerable``.

    Returns:
        One dict per distinct score (plus -inf and +inf), ascending, with
        ``threshold``, ``noans_accuracy`` (share of unanswerable abstained),
        ``false_abstention_rate`` (share of answerable abstained) and
        ``overall_accuracy``; a share is None when its group is empty.
    """
    if len(scores_answerable) != len(correct_if_answered):
        raise ValueError("scores_answerable and correct_if_answered differ in length")
    answerable = _as_scores(scores_answerable, "scores_answerable")
    unanswerable = _as_scores(scores_unanswerable, "scores_unanswerable")
    correct = np.asarray(correct_if_answered, dtype=bool)
    n_total = len(answerable) + len(unanswerable)
    rows = []
    for threshold in _candidate_thresholds(answerable, unanswerable):
        answered = answerable >= threshold
        abstained_unanswerable = int((unanswerable < threshold).sum())
        correct_answerable = int((answered & correct).sum())
        rows.append({
            "threshold": float(threshold),
            "noans_accuracy": _share(abstained_unanswerable, len(unanswerable)),
            "false_abstention_rate": _share(int((~answered).sum()), len(answerable)),
            "overall_accuracy": _share(correct_answerable + abstained_unanswerable, n_total),
        })
    return rows


def best_threshold(
    scores_answerable: list[float],
    scores_unanswerable: list[float],
    correct_if_answered: list[bool],
) -> tuple[float, float]:
    """The confidence threshold that maximises overall accuracy.

    Uses the same answering rule as :func:`sweep`; ties go to the lower
    threshold, i.e. the one that answers more questions.

    Args:
        scores_answerable: Confidence per answerable question.
        scores_unanswerable: Confidence per unanswerable question.
        correct_if_answered: Whether each answerable question's answer is
            right, aligned with ``scores_answerable``.

    Returns:
        ``(threshold, overall_accuracy)``.
    """
    if not scores_answerable and not scores_unanswerable:
        raise ValueError("best_threshold needs at least one question")
    rows = sweep(scores_answerable, scores_unanswerable, correct_if_answered)
    # Rows are ascending and max() keeps the first maximum: the lowest threshold wins ties.
    best = max(rows, key=lambda row: row["overall_accuracy"])
    return best["threshold"], best["overall_accuracy"]


# --------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------


def reliability_bins(probabilities: list[float], outcomes: list[bool], bins: int = 10) -> list[dict]:
    """Confidence against observed accuracy in equal-width bins (the reliability diagram).

    Args:
        probabilities: Stated probability that each answer is right, in [0, 1].
        outcomes: Whether each answer was right.
        bins: Number of equal-width bins over [0, 1].

    Returns:
        One dict per non-empty bin: ``low``, ``high``, ``n``, mean ``confidence`` and ``accuracy``.
    """
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    right = np.asarray(outcomes, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        members = which == b
        if members.any():
            rows.append({"low": float(edges[b]), "high": float(edges[b + 1]), "n": int(members.sum()),
                         "confidence": float(p[members].mean()), "accuracy": float(right[members].mean())})
    return rows


def expected_calibration_error(probabilities: list[float], outcomes: list[bool], bins: int = 10) -> float:
    """Mean |confidence − accuracy| over equal-width bins, weighted by their share of answers."""
    rows = reliability_bins(probabilities, outcomes, bins)
    total = sum(row["n"] for row in rows)
    if not total:
        raise ValueError("expected_calibration_error needs at least one answer")
    return sum(row["n"] / total * abs(row["confidence"] - row["accuracy"]) for row in rows)


def sweep_area(rows: list[dict]) -> float | None:
    """Area under the sweep's curve of NoAns accuracy against false abstention rate.

    0.5 is the diagonal (a confidence that does not separate answerable from unanswerable
    questions); 1.0 abstains on every unanswerable question before any answerable one.
    """
    points = sorted(
        (r["false_abstention_rate"], r["noans_accuracy"])
        for r in rows
        if r["false_abstention_rate"] is not None and r["noans_accuracy"] is not None
    )
    if len(points) < 2:
        return None
    xs, ys = zip(*points)
    return float(np.trapezoid(ys, xs))

"""Aggregate per-question results into rates with Wilson intervals, per category and split."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from . import metrics
from .metrics import Mean, Rate
from .runner import HEADLINE, K_VALUES, EvalRun, QuestionResult


class OperatingPoint(BaseModel):
    """The abstention threshold that is best on dev, and what it gives on test."""

    model_config = ConfigDict(extra="forbid")
    threshold: float | None
    dev_overall_accuracy: float | None
    test: dict[str, float | None]


class Report(BaseModel):
    """Everything ``pdqa eval`` writes to report.json."""

    model_config = ConfigDict(extra="forbid")
    run: EvalRun
    summary: dict[str, Rate | Mean]
    by_category: dict[str, dict[str, Rate | Mean]]
    by_split: dict[str, dict[str, Rate | Mean]]
    by_document: dict[str, dict[str, Rate | Mean]] = {}
    sweep: dict[str, list[dict]]
    sweep_area: dict[str, float | None]
    calibration: dict[str, dict]
    operating_point: OperatingPoint


def summarise(results: list[QuestionResult]) -> dict[str, Rate | Mean]:
    """All metrics over a set of question results."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    answered = [r for r in answerable if not r.abstained]
    summary: dict[str, Rate | Mean] = {
        "answer_correctness": _rate(answerable, lambda r: r.correct),
        "evidence_recall": _rate(answerable, lambda r: r.evidence_cited),
        "noans_accuracy": _rate(unanswerable, lambda r: r.abstained),
        "hasans_accuracy": _rate(answerable, lambda r: not r.abstained),
        "false_abstention": _rate(answerable, lambda r: r.abstained),
        "overall_accuracy": _rate(results, lambda r: r.correct),
        "quote_fidelity": Rate.of(sum(r.citations_faithful for r in results), sum(r.citations_total for r in results)),
        "evidence_precision": Rate.of(
            sum(r.citations_on_evidence for r in answered), sum(len(r.citations) for r in answered)
        ),
        "answers_fully_cited": _rate(answered, lambda r: r.uncited_sentences == 0),
        "exact_match": Mean.of([r.exact_match for r in answerable]),
        "f1": Mean.of([r.f1 for r in answerable]),
        "fact_recall": Mean.of([r.fact_recall for r in answerable]),
    }
    summary.update(_retrieval(answerable))
    if any(r.mode != "extractive" for r in results):
        summary.update(_llm(results))
    return summary


def _llm(results: list[QuestionResult]) -> dict[str, Rate | Mean]:
    """How much of what the LLM wrote verification removed, and how much it let through unbacked."""
    return {
        "llm_answers": _rate(results, lambda r: r.mode == "llm"),
        "llm_fallbacks": _rate(results, lambda r: r.mode == "extractive-fallback"),
        "raw_sentences_unsupported": Rate.of(
            sum(r.removed_sentences for r in results), sum(r.raw_sentences for r in results)
        ),
        "verified_sentences_unsupported": Rate.of(
            sum(r.verified_unsupported for r in results), sum(r.verified_sentences for r in results)
        ),
    }


def _rate(results: list[QuestionResult], success) -> Rate:
    return Rate.of(sum(1 for r in results if success(r)), len(results))


def _retrieval(answerable: list[QuestionResult]) -> dict[str, Rate | Mean]:
    scored = [r for r in answerable if r.evidence_found_at]
    values: dict[str, Rate | Mean] = {}
    for k in K_VALUES:
        values[f"hit_rate@{k}"] = _rate(scored, lambda r, k=k: metrics.hit_rate_at_k(r.relevant_at_rank, k) == 1)
        values[f"recall@{k}"] = Mean.of([metrics.recall_at_k(r.evidence_found_at, k) for r in scored])
    values["mrr@10"] = Mean.of([metrics.mrr_at_k(r.relevant_at_rank, 10) for r in scored])
    values["ndcg@10"] = Mean.of(
        [metrics.ndcg_at_k(r.relevant_at_rank, 10, n_relevant_total=len(r.evidence_found_at)) for r in scored]
    )
    return values


def grouped(results: list[QuestionResult], key) -> dict[str, dict[str, Rate | Mean]]:
    """``summarise`` per group, e.g. per category or per split."""
    return {name: summarise(members) for name, members in sorted(_group(results, key).items())}


def _group(results: list[QuestionResult], key) -> dict[str, list[QuestionResult]]:
    groups: dict[str, list[QuestionResult]] = {}
    for result in results:
        groups.setdefault(key(result), []).append(result)
    return groups


def threshold_sweep(results: list[QuestionResult]) -> list[dict]:
    """Abstention figures at every candidate threshold for these questions."""
    answerable = [r for r in results if r.answerable]
    return metrics.sweep(
        [r.sweep_confidence for r in answerable],
        [r.sweep_confidence for r in results if not r.answerable],
        [r.sweep_correct for r in answerable],
    )


def operating_point(results: list[QuestionResult]) -> OperatingPoint:
    """Choose the threshold on the dev questions, then read the test questions at it."""
    dev = [r for r in results if r.split == "dev"]
    test = [r for r in results if r.split == "test"]
    if not dev or not any(r.answerable for r in dev):
        return OperatingPoint(threshold=None, dev_overall_accuracy=None, test={})
    answerable = [r for r in dev if r.answerable]
    threshold, accuracy = metrics.best_threshold(
        [r.sweep_confidence for r in answerable],
        [r.sweep_confidence for r in dev if not r.answerable],
        [r.sweep_correct for r in answerable],
    )
    return OperatingPoint(threshold=threshold, dev_overall_accuracy=accuracy, test=_at(test, threshold))


def _at(results: list[QuestionResult], threshold: float) -> dict[str, float | None]:
    if not results:
        return {}
    rows = threshold_sweep(results)
    # pdqa answers when score >= threshold. The sweep's candidates are the observed scores
    # (plus +inf), so the smallest candidate at or above ours makes the same decisions.
    row = min((r for r in rows if r["threshold"] >= threshold), key=lambda r: r["threshold"])
    return {key: value for key, value in row.items() if key != "threshold"}


def build_report(run: EvalRun) -> Report:
    """Every aggregate the report shows, computed from the run's per-question results."""
    results = run.questions
    by_split = _group(results, lambda r: r.split)
    sweeps = {split: threshold_sweep(rs) for split, rs in by_split.items()}
    return Report(
        run=run,
        summary=summarise(results),
        by_category=grouped(results, lambda r: r.category),
        by_split=grouped(results, lambda r: r.split),
        by_document=grouped(results, lambda r: r.document) if any(r.document for r in results) else {},
        sweep=sweeps,
        sweep_area={split: metrics.sweep_area(rows) for split, rows in sweeps.items()},
        calibration={split: calibration(rs) for split, rs in by_split.items()},
        operating_point=operating_point(results),
    )


def calibration(results: list[QuestionResult]) -> dict:
    """How well ``confidence`` states the chance that pdqa's proposed answer is right.

    Each question contributes the answer pdqa would give with no abstention threshold, its
    confidence and whether it was right (for an unanswerable question, answering is never right).
    """
    probabilities = [r.sweep_confidence for r in results]
    outcomes = [r.sweep_correct for r in results]
    if not results:
        return {"ece": None, "bins": []}
    return {
        "ece": metrics.expected_calibration_error(probabilities, outcomes),
        "bins": metrics.reliability_bins(probabilities, outcomes),
    }


def headline(summary: dict[str, Rate | Mean]) -> dict[str, Rate]:
    """The metrics the regression gate watches."""
    return {name: summary[name] for name in HEADLINE}

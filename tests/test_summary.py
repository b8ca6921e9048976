"""Aggregation of per-question results: operating point and rates."""

from __future__ import annotations

import pytest

from pdqa.evaluation.runner import QuestionResult
from pdqa.evaluation.summary import operating_point, summarise


def _result(qid: str, split: str, answerable: bool, score: float, correct_if_answered: bool = True):
    return QuestionResult(
        id=qid, question=qid, category="c", split=split, answerable=answerable, answer="a",
        abstained=False, abstain_reason="", confidence=score, citations=[], correct=answerable,
        fact_recall=1.0, missing_facts=[], exact_match=0.0, f1=0.0, citations_total=0,
        citations_faithful=0, citations_on_evidence=0, evidence_cited=answerable,
        uncited_sentences=0, relevant_at_rank=[True], evidence_found_at=[1] if answerable else [],
        sweep_confidence=score, sweep_correct=answerable and correct_if_answered, failures=[],
        latency_ms=1.0,
    )


def test_operating_point_is_chosen_on_dev_and_read_on_test():
    dev = [_result("d1", "dev", True, 0.9), _result("d2", "dev", True, 0.6), _result("d3", "dev", False, 0.3)]
    # On test, 0.5 lies between the unanswerable 0.4 and the answerable 0.7: at the dev threshold
    # (0.6) test answers q 0.7 and abstains on 0.4 and 0.5.
    test = [_result("t1", "test", True, 0.7), _result("t2", "test", True, 0.5), _result("t3", "test", False, 0.4)]
    point = operating_point(dev + test)
    assert point.threshold == pytest.approx(0.6)
    assert point.dev_overall_accuracy == pytest.approx(1.0)
    assert point.test["noans_accuracy"] == pytest.approx(1.0)
    assert point.test["false_abstention_rate"] == pytest.approx(0.5)
    assert point.test["overall_accuracy"] == pytest.approx(2 / 3)


def test_summary_counts_answerable_and_unanswerable_separately():
    results = [_result("a", "dev", True, 0.9), _result("b", "dev", False, 0.2)]
    results[1].abstained = True
    results[1].correct = True
    summary = summarise(results)
    assert (summary["noans_accuracy"].successes, summary["noans_accuracy"].n) == (1, 1)
    assert (summary["answer_correctness"].successes, summary["answer_correctness"].n) == (1, 1)
    assert summary["overall_accuracy"].value == pytest.approx(1.0)

"""Tests for pdqa.evaluation.metrics; expected numbers are computed by hand."""

import math

import pytest

from pdqa.evaluation.metrics import (
    Mean,
    Rate,
    best_threshold,
    evidence_spans,
    exact_match,
    fact_recall,
    hit_rate_at_k,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    recall_at_k,
    spans_overlap,
    sweep,
    token_f1,
    wilson_interval,
)

# ---------------------------------------------------------------- answer text


def test_normalize_removes_articles_punctuation_markers_and_curly_quotes():
    text = "The  Cat\u2019s \u201chat\u201d \u2022 [1][2] a\u00a0dog."
    assert normalize_answer(text) == "cats hat dog"


def test_normalize_treats_non_breaking_space_as_space():
    assert normalize_answer("New\u00a0York") == "new york"


def test_normalize_strips_comma_separated_citation_marker():
    assert normalize_answer("Paris [1, 4]") == "paris"


def test_normalize_keeps_article_letters_inside_words():
    # "a", "an", "the" are removed only as whole words.
    assert normalize_answer("Theory and analysis") == "theory and analysis"


def test_exact_match_ignores_case_articles_punctuation_and_citations():
    assert exact_match("The Paris! [3]", ["paris"]) == 1.0


def test_exact_match_takes_best_gold():
    assert exact_match("Paris", ["London", "paris."]) == 1.0
    assert exact_match("Lyon", ["London", "Paris"]) == 0.0


def test_exact_match_without_golds_rewards_only_empty_prediction():
    assert exact_match("[1].", []) == 1.0
    assert exact_match("Paris", []) == 0.0


def test_token_f1_partial_overlap():
    # prediction tokens: cat sat on mat; gold tokens: cat on mat today.
    # overlap 3 -> precision 3/4, recall 3/4, F1 0.75.
    assert token_f1("the cat sat on the mat", ["a cat on a mat today"]) == pytest.approx(0.75)


def test_token_f1_takes_maximum_over_golds():
    # against "cat": precision 1/2, recall 1 -> F1 2/3; against "dog": 0.
    assert token_f1("cat sat", ["dog", "cat"]) == pytest.approx(2 / 3)


def test_token_f1_counts_repeated_tokens_once_per_match():
    # prediction "cat cat" vs gold "cat": overlap 1 -> P 1/2, R 1 -> F1 2/3.
    assert token_f1("cat cat", ["cat"]) == pytest.approx(2 / 3)


def test_token_f1_empty_after_normalisation():
    assert token_f1("the", ["a"]) == 1.0
    assert token_f1("cat", ["the"]) == 0.0


def test_token_f1_without_golds():
    assert token_f1("", []) == 1.0
    assert token_f1("Paris", []) == 0.0


def test_fact_recall_reports_missing_indices():
    answer = "Paris is the capital; population 2.1 million."
    facts = [["capital"], ["2,100,000", "2.1 million"], ["Eiffel Tower"], ["capit"]]
    recall, missing = fact_recall(answer, facts)
    assert recall == pytest.approx(0.5)
    # "capit" must not match inside "capital": containment respects word boundaries.
    assert missing == [2, 3]


def test_fact_recall_without_facts():
    assert fact_recall("anything", []) == (1.0, [])


def test_fact_recall_ignores_empty_phrasing():
    assert fact_recall("a cat", [["the"]]) == (0.0, [0])


# ------------------------------------------------------------------ citations


def test_spans_overlap_cases():
    assert spans_overlap(0, 5, 4, 10) is True
    assert spans_overlap(0, 10, 2, 3) is True
    # Touching half-open spans share no character.
    assert spans_overlap(0, 5, 5, 10) is False
    # An empty span overlaps nothing, even inside another span.
    assert spans_overlap(3, 3, 0, 10) is False


def test_evidence_spans_finds_every_occurrence_sorted():
    assert evidence_spans("abab ab", ["ab", "bab", ""]) == [(0, 2), (1, 4), (2, 4), (5, 7)]


def test_evidence_spans_keeps_overlapping_occurrences():
    assert evidence_spans("aaa", ["aa"]) == [(0, 2), (1, 3)]


def test_evidence_spans_absent_evidence():
    assert evidence_spans("hello", ["world"]) == []


# ------------------------------------------------------------------ retrieval

RANKING = [False, True, False, True, False]


def test_hit_rate_at_k():
    assert hit_rate_at_k(RANKING, 1) == 0.0
    assert hit_rate_at_k(RANKING, 2) == 1.0


def test_recall_at_k_counts_evidence_spans_found_in_time():
    assert recall_at_k([2, None, 4], 2) == pytest.approx(1 / 3)
    assert recall_at_k([2, None, 4], 5) == pytest.approx(2 / 3)
    assert recall_at_k([1, 1], 1) == 1.0


def test_mrr_at_k():
    assert mrr_at_k(RANKING, k=1) == 0.0
    assert mrr_at_k(RANKING) == pytest.approx(0.5)


def test_ndcg_at_k_by_hand():
    # DCG = 1/log2(3) + 1/log2(5) = 0.630930 + 0.430677 = 1.061606
    # IDCG (3 relevant) = 1 + 0.630930 + 0.5 = 2.130930 -> nDCG = 0.498189
    assert ndcg_at_k(RANKING, k=5, n_relevant_total=3) == pytest.approx(0.498189, abs=1e-6)


def test_ndcg_at_k_ideal_uses_at_most_k_items():
    # DCG = 0.630930; IDCG over min(3, 2) = 2 items = 1.630930 -> 0.386853
    assert ndcg_at_k(RANKING, k=2, n_relevant_total=3) == pytest.approx(0.386853, abs=1e-6)


def test_ndcg_at_k_perfect_ranking():
    assert ndcg_at_k([True, True, False], k=10, n_relevant_total=2) == pytest.approx(1.0)


def test_retrieval_rejects_bad_arguments():
    with pytest.raises(ValueError):
        hit_rate_at_k(RANKING, 0)
    with pytest.raises(ValueError):
        recall_at_k([], 5)
    with pytest.raises(ValueError):
        ndcg_at_k(RANKING, k=5, n_relevant_total=0)


# ----------------------------------------------------- intervals, aggregation


def test_wilson_interval_eight_of_ten():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_interval_extremes():
    # 0/10: centre and half-width are both 0.138766 -> (0, 0.277533)
    low, high = wilson_interval(0, 10)
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4)
    assert high == 1.0


def test_wilson_interval_without_trials():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_interval_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_rate_of_counts():
    rate = Rate.of(8, 10)
    assert rate.value == pytest.approx(0.8)
    assert (rate.successes, rate.n) == (8, 10)
    assert rate.low == pytest.approx(0.4902, abs=1e-4)
    assert rate.high == pytest.approx(0.9433, abs=1e-4)


def test_rate_of_no_trials():
    rate = Rate.of(0, 0)
    assert rate.value is None
    assert (rate.low, rate.high) == (0.0, 1.0)


def test_mean_of_values():
    mean = Mean.of([0.5, 1.0, 0.0])
    assert mean.value == pytest.approx(0.5)
    assert mean.n == 3


def test_mean_of_nothing():
    assert Mean.of([]) == Mean(value=None, n=0)


# ----------------------------------------------------------------- abstention

# Answerable scores 0.9 (right), 0.8 (wrong), 0.3 (right); unanswerable 0.5, 0.2.
# Correct out of 5 per threshold:
#   -inf 2, 0.2 2, 0.3 3, 0.5 2, 0.8 3, 0.9 3, +inf 2
# so 0.3, 0.8 and 0.9 tie at 3/5 and the lowest, 0.3, wins.
ANSWERABLE = [0.9, 0.8, 0.3]
CORRECT = [True, False, True]
UNANSWERABLE = [0.5, 0.2]


def test_best_threshold_breaks_ties_towards_lower_threshold():
    assert best_threshold(ANSWERABLE, UNANSWERABLE, CORRECT) == (0.3, pytest.approx(0.6))


def test_best_threshold_can_answer_everything():
    # Answering everything is already perfect, and -inf is the lowest such threshold.
    assert best_threshold([0.4], [], [True]) == (-math.inf, 1.0)


def test_sweep_lists_every_candidate_in_order():
    thresholds = [row["threshold"] for row in sweep(ANSWERABLE, UNANSWERABLE, CORRECT)]
    assert thresholds == [-math.inf, 0.2, 0.3, 0.5, 0.8, 0.9, math.inf]


def test_sweep_row_values():
    row = sweep(ANSWERABLE, UNANSWERABLE, CORRECT)[3]
    # At 0.5: unanswerable 0.2 abstained (1/2); answerable 0.3 abstained (1/3);
    # correct = 0.9 answered right + 0.2 abstained = 2/5.
    assert row == {
        "threshold": 0.5,
        "noans_accuracy": pytest.approx(0.5),
        "false_abstention_rate": pytest.approx(1 / 3),
        "overall_accuracy": pytest.approx(0.4),
    }


def test_sweep_without_unanswerable_questions():
    assert sweep([0.4], [], [True])[0]["noans_accuracy"] is None


def test_sweep_rejects_misaligned_inputs():
    with pytest.raises(ValueError):
        sweep([0.4, 0.5], [], [True])


def test_a_fact_joined_to_the_next_word_by_a_dash_is_still_found():
    recall, missing = fact_recall("the Venetians held the Adriatic—fell in 1420", [["Adriatic"], ["Venice"]])
    assert recall == 0.5 and missing == [1]
    assert fact_recall("practice-based evidence", [["practice-based evidence"]]) == (1.0, [])


def test_calibration_error_and_reliability_bins():
    from pdqa.evaluation.metrics import expected_calibration_error, reliability_bins

    probabilities = [0.9, 0.9, 0.1, 0.1]
    assert expected_calibration_error(probabilities, [True, True, False, False]) == pytest.approx(0.1)
    assert expected_calibration_error(probabilities, [False, False, True, True]) == pytest.approx(0.9)
    bins = reliability_bins(probabilities, [True, False, False, False])
    assert [(b["n"], b["accuracy"]) for b in bins] == [(2, 0.0), (2, 0.5)]


def test_sweep_area_is_one_half_on_the_diagonal_and_one_when_separated():
    from pdqa.evaluation.metrics import sweep_area

    separated = sweep([0.9, 0.8], [0.1, 0.2], [True, True])
    assert sweep_area(separated) == pytest.approx(1.0)
    mixed = sweep([0.5, 0.5], [0.5, 0.5], [True, True])
    assert sweep_area(mixed) == pytest.approx(0.5)

"""Feature extraction for the learned answerer: answer-type evidence and per-candidate rows."""

from __future__ import annotations

import numpy as np
import pytest

from pdqa.features import QUESTION_FEATURES, UNIT_FEATURES, holds_answer_type, holds_count, question_row
from pdqa.question import analyse

TITLE = "Innovation in Action: Review of the Effectiveness"


def test_a_count_needs_the_counted_noun_after_a_number_and_not_a_year():
    assert holds_count("operating in all four NHS regions", ("nhs", "region"))
    assert not holds_count("operating in all four NHS regions", ("pilot", "site"))
    assert not holds_count("commissioned in 2004 by the pilots", ())
    assert holds_count("for a minimum of 1 day a week", ("day",))


@pytest.mark.parametrize(
    ("question", "text", "expected"),
    [
        ("Who commissioned the pilots?", "pilots commissioned by the Department of Health", True),
        ("Who paid for the pilots?", "‘Innovation in Action’ outlines the outcomes of the pilots", False),
        ("When were they commissioned?", "commissioned by the Department of Health in 2004", True),
        ("When were they commissioned?", "commissioned by the Department of Health", False),
        ("What is the salary?", "a secondment or fixed term contract initially for 12 months", False),
        ("What is the salary?", "The salary is £52,000 a year", True),
        ("Which hospitals ran the pilots?", "‘Innovation in Action’ outlines the outcomes", False),
        ("Where is the team?", "works from NOMS at Clive House, London", True),
        ("What percentage improved?", "identified in a document (2003) as an area of need", False),
        ("How long is the contract?", "fixed term contract initially for 12 months", True),
        ("Why were the pilots set up?", "The aim of the pilots was to identify evidence", True),
        ("Why were the pilots set up?", "The pilots achieved significant cost savings", False),
    ],
)
def test_answer_type_checks(question, text, expected):
    assert holds_answer_type(analyse(question), text, TITLE) is expected



def test_every_retrieved_unit_gets_one_finite_row(qa):
    question = analyse("Where does the Joint Team currently work from?")
    vector = qa.embedder.embed([question.text])[0]
    hits = qa.retriever.retrieve(question.text, vector)
    found = qa.answerer.extractor.candidates(question, vector, hits, qa.index.chunk_by_id)
    expected = sum(len(qa.index.units_by_chunk[h.chunk_id]) for h in hits)
    assert found.matrix.shape == (expected, len(UNIT_FEATURES))
    assert np.isfinite(found.matrix).all()
    best_dense = int(np.argmax(found.column("dense")))
    assert found.column("dense_rank_inv")[best_dense] == 1.0 and found.column("dense_gap")[best_dense] == 0.0
    clive = next(i for i, u in enumerate(found.units) if "Clive House" in u.text)
    assert found.column("names_missing_unit")[clive] == 0.0


def test_missing_names_and_negation_are_seen(qa):
    swapped = analyse("Where does the Joint Team of Manchester never work?")
    assert swapped.names == ("joint", "team", "manchester") and swapped.negated
    vector = qa.embedder.embed([swapped.text])[0]
    hits = qa.retriever.retrieve(swapped.text, vector)
    found = qa.answerer.extractor.candidates(swapped, vector, hits, qa.index.chunk_by_id)
    clive = next(i for i, u in enumerate(found.units) if "Clive House" in u.text)
    assert found.column("names_missing_unit")[clive] == pytest.approx(1 / 3)
    assert found.column("negation_mismatch")[clive] == 1.0


def test_question_row_reads_the_best_allowed_candidate(qa):
    question = analyse("How long is the contract?")
    vector = qa.embedder.embed([question.text])[0]
    hits = qa.retriever.retrieve(question.text, vector)
    found = qa.answerer.extractor.candidates(question, vector, hits, qa.index.chunk_by_id)
    scores = np.full(len(found.units), -np.inf)
    scores[0], scores[1] = 2.0, 0.5
    row = question_row(question, found, scores)
    assert row[QUESTION_FEATURES.index("top_score")] == 2.0
    assert row[QUESTION_FEATURES.index("score_gap")] == pytest.approx(1.5)
    assert row[QUESTION_FEATURES.index("kind_duration")] == 1.0
    assert row[QUESTION_FEATURES.index("kind_what")] == 0.0


# ---------------------------------------------------------------- term weights and unit terms


def _all_unit_terms(index):
    from pdqa.features import unit_terms_of

    return [unit_terms_of(unit, index.chunk_by_id[unit.chunk_id]) for unit in index.units]


def test_term_weights_count_in_how_many_units_a_term_occurs():
    from pdqa.features import TermWeights, UnitTerms

    weights = TermWeights.of(
        [UnitTerms(frozenset({"pilot", "site"}), frozenset()), UnitTerms(frozenset({"pilot"}), frozenset({"garden"}))]
    )

    assert (weights.size, dict(weights.document_frequency)) == (2, {"pilot": 2, "site": 1})
    assert weights.weight("site") > weights.weight("pilot")
    assert weights.weight("never-seen") > weights.weight("site")


def test_term_weights_saved_and_loaded_are_the_same_counts(tmp_path):
    from pdqa.features import TermWeights

    saved = TermWeights(3, {"pilot": 2, "ørsted": 1})
    saved.save(tmp_path / "terms.json")
    loaded = TermWeights.load(tmp_path / "terms.json")

    assert (loaded.size, dict(loaded.document_frequency)) == (3, {"pilot": 2, "ørsted": 1})
    assert TermWeights.load(tmp_path / "missing.json") is None


def test_term_weights_another_version_of_the_code_saved_are_not_used(tmp_path):
    import json

    from pdqa.features import TermWeights

    TermWeights(3, {"pilot": 2}).save(tmp_path / "terms.json")
    record = json.loads((tmp_path / "terms.json").read_text(encoding="utf-8"))
    (tmp_path / "terms.json").write_text(json.dumps(record | {"code_sha256": "0" * 64}), encoding="utf-8")

    assert TermWeights.load(tmp_path / "terms.json") is None


def test_lazy_unit_terms_are_the_terms_of_each_unit(qa):
    from pdqa.features import LazyUnitTerms

    lazy = LazyUnitTerms(qa.index.units, qa.index.chunk_by_id)

    assert len(lazy) == len(qa.index.units)
    assert [lazy[u.unit_id] for u in qa.index.units] == _all_unit_terms(qa.index)
    assert any(terms.section for terms in _all_unit_terms(qa.index))  # headings are counted too


def test_the_saved_term_counts_are_those_of_every_unit(qa):
    from pdqa.features import TermWeights

    counted = TermWeights.of(_all_unit_terms(qa.index))

    assert qa.index.term_weights is not None
    assert qa.answerer.weights is qa.index.term_weights  # read, not counted again at load
    assert qa.index.term_weights.size == counted.size == len(qa.index.units)
    assert dict(qa.index.term_weights.document_frequency) == dict(counted.document_frequency)

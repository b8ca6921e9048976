"""Tests for pdqa.retrieval through QA.retrieve: hybrid ranking and reciprocal rank fusion."""

from __future__ import annotations

import pytest

from pdqa.qa import QA

# (question, text that only the chunk holding the answer contains)
KNOWN_QUESTIONS = [
    ("Who wrote the Innovation in Action report?", "Dr Lisa Wilson and Dr Rex Haigh"),
    ("Which government department commissioned the pilots?", "commissioned by the Department of Health"),
    ("Where is the Joint Team based?", "works from NOMS at Clive House"),
    ("How long is the initial contract for the post?", "initially for 12 months"),
    ("What did the pilots achieve in terms of cost savings?", "human and economic cost savings"),
    ("In how many NHS regions does the offender PD service operate?", "all four NHS regions"),
    ("Which 2003 document identified an area of unmet need?", "No Longer a Diagnosis of Exclusion (2003)"),
    ("What was the aim of commissioning the pilots?", "The aim of the commissioning of these pilots"),
    ("What did the pilots aim to identify?", "The aim of the commissioning of these pilots"),
    ("What fundamental assumptions did the pilot services demonstrate?", "human relationships"),
]


@pytest.fixture(scope="module")
def weighted_qa(built_settings):
    """A QA over the session index with uneven fusion weights and a small RRF constant."""
    return QA(built_settings.changed(retrieval={"dense_weight": 0.7, "bm25_weight": 1.6, "rrf_k": 5}))


def _expected_score(hit, settings) -> float:
    settings = settings.retrieval
    score = 0.0
    if hit.dense_rank is not None:
        score += settings.dense_weight / (settings.rrf_k + hit.dense_rank)
    if hit.bm25_rank is not None:
        score += settings.bm25_weight / (settings.rrf_k + hit.bm25_rank)
    return score


@pytest.mark.parametrize(("question", "evidence"), KNOWN_QUESTIONS)
def test_answer_chunk_is_in_the_top_three(qa, question, evidence):
    hits = qa.retrieve(question, k=3)
    assert len(hits) == 3
    assert any(evidence in hit.text for hit in hits), [hit.text[:60] for hit in hits]


@pytest.mark.parametrize(("question", "evidence"), KNOWN_QUESTIONS[:4])
def test_every_hit_has_rank_fused_score_and_a_component_score(qa, corpus_text, question, evidence):
    hits = qa.retrieve(question)

    assert [hit.rank for hit in hits] == list(range(1, len(hits) + 1))
    for hit in hits:
        assert hit.score > 0
        assert hit.dense_score is not None or hit.bm25_score is not None
        assert (hit.dense_score is None) == (hit.dense_rank is None)
        assert (hit.bm25_score is None) == (hit.bm25_rank is None)
        if hit.bm25_score is not None:
            assert hit.bm25_score > 0
        if hit.dense_score is not None:
            assert -1.0 <= hit.dense_score <= 1.0 + 1e-6
        assert corpus_text[hit.start : hit.end] == hit.text
        assert hit.doc_id in {"innovation-in-action", "opd-vacancy"}


@pytest.mark.parametrize(("question", "evidence"), KNOWN_QUESTIONS)
def test_fused_score_is_weighted_reciprocal_rank_fusion(qa, question, evidence):
    for hit in qa.retrieve(question):
        assert hit.score == pytest.approx(_expected_score(hit, qa.settings), rel=1e-12)


@pytest.mark.parametrize(("question", "evidence"), KNOWN_QUESTIONS[:3])
def test_fused_score_follows_the_weights_in_the_settings(weighted_qa, question, evidence):
    hits = weighted_qa.retrieve(question)
    assert any(hit.dense_rank is not None and hit.bm25_rank is not None for hit in hits)
    for hit in hits:
        assert hit.score == pytest.approx(_expected_score(hit, weighted_qa.settings), rel=1e-12)


@pytest.mark.parametrize(("question", "evidence"), KNOWN_QUESTIONS)
def test_hits_are_sorted_by_fused_score(qa, question, evidence):
    scores = [hit.score for hit in qa.retrieve(question, k=10)]
    assert len(scores) == 10
    assert scores == sorted(scores, reverse=True)


def test_component_ranks_follow_component_scores(qa):
    hits = qa.retrieve("How long is the initial contract for the post?", k=20)
    dense = sorted((h for h in hits if h.dense_rank is not None), key=lambda h: h.dense_rank)
    lexical = sorted((h for h in hits if h.bm25_rank is not None), key=lambda h: h.bm25_rank)
    assert len(dense) >= 5 and len(lexical) >= 2
    assert [h.dense_score for h in dense] == sorted((h.dense_score for h in dense), reverse=True)
    assert [h.bm25_score for h in lexical] == sorted((h.bm25_score for h in lexical), reverse=True)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 12])
def test_k_is_respected(qa, k):
    hits = qa.retrieve("What did the report find about the pilots?", k=k)
    assert len(hits) == k
    assert len({hit.chunk_id for hit in hits}) == k


def test_default_k_is_top_k_from_the_settings(qa, built_settings):
    assert len(qa.retrieve("What did the report find about the pilots?")) == built_settings.retrieval.top_k == 5


def test_smaller_k_is_a_prefix_of_larger_k(qa):
    question = "Where will the post holder travel?"
    five = [hit.chunk_id for hit in qa.retrieve(question, k=5)]
    assert [hit.chunk_id for hit in qa.retrieve(question, k=2)] == five[:2]


def test_keyword_query_ranks_the_matching_chunk_first(qa):
    hits = qa.retrieve("clive house noms")
    assert "NOMS at Clive House" in hits[0].text
    assert hits[0].bm25_rank == 1
    assert hits[0].doc_id == "opd-vacancy"


def test_keyword_with_no_bm25_match_still_gets_dense_hits(qa):
    hits = qa.retrieve("zebra xylophone")
    assert len(hits) == 5
    assert all(hit.bm25_rank is None and hit.dense_rank is not None for hit in hits)


class _ThreadRecordingIndex:
    """Wraps the FAISS chunk index and records FAISS's thread count at each search."""

    def __init__(self, index):
        self.index = index
        self.threads: list[int] = []

    def search(self, vectors, k):
        import faiss

        self.threads.append(faiss.omp_get_max_threads())
        return self.index.search(vectors, k)


def test_dense_search_runs_on_one_faiss_thread_and_restores_the_count(qa, monkeypatch):
    import faiss

    before = qa.retrieve("Where is the Joint Team based?", k=5)
    recording = _ThreadRecordingIndex(qa.index.chunk_index)
    monkeypatch.setattr(qa.index, "chunk_index", recording)
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(2)
    try:
        hits = qa.retrieve("Where is the Joint Team based?", k=5)
        assert faiss.omp_get_max_threads() == 2
    finally:
        faiss.omp_set_num_threads(previous)
    assert recording.threads == [1]
    assert [h.chunk_id for h in hits] == [h.chunk_id for h in before]

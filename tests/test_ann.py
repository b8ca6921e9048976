"""Tests for pdqa.ann: exact search for small corpora, HNSW with measured recall for large ones."""

from __future__ import annotations

import numpy as np
import pytest

import pdqa.ann
from pdqa.ann import MIN_RECALL, build_chunk_search, recall_at_k
from pdqa.index import Index, build_index, read_manifest
from pdqa.qa import QA


def _clustered_unit_vectors(count: int, dimension: int = 64, seed: int = 1) -> np.ndarray:
    """Vectors in 50 clusters, like embeddings of texts on a few topics (uniform noise is too easy)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dimension))
    vectors = centres[rng.integers(0, 50, count)] + 0.5 * rng.normal(size=(count, dimension))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_recall_counts_shared_ids_per_query():
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    found = np.array([[3, 2, 9], [4, -1, -1]])
    assert recall_at_k(found, truth) == pytest.approx(3 / 6)
    assert recall_at_k(truth, truth) == 1.0


def test_small_corpus_is_searched_exactly():
    vectors = _clustered_unit_vectors(300)
    index, search = build_chunk_search(vectors, vectors[:50], exact_max=300)
    assert search.kind == "exact" and search.recall_at_10 is None
    assert type(index).__name__ == "IndexFlatIP"
    assert index.ntotal == 300


def test_large_corpus_gets_hnsw_with_measured_recall_against_exact():
    vectors = _clustered_unit_vectors(3000)
    probes = _clustered_unit_vectors(400, seed=2)
    index, search = build_chunk_search(vectors, probes, exact_max=1000)

    assert search.kind == "hnsw"
    assert search.recall_at_10 >= MIN_RECALL
    assert index.hnsw.efSearch == search.ef_search
    assert search.recall_queries == 400
    # Check the recorded recall independently, on queries the build did not see.
    queries = _clustered_unit_vectors(200, seed=3)
    exact, _ = build_chunk_search(vectors, probes, exact_max=10_000)
    measured = recall_at_k(index.search(queries, 10)[1], exact.search(queries, 10)[1])
    assert measured >= MIN_RECALL - 0.03


def test_hnsw_that_cannot_reach_the_recall_target_falls_back_to_exact(monkeypatch):
    monkeypatch.setattr(pdqa.ann, "EF_SEARCH_CHOICES", (1,))
    monkeypatch.setattr(pdqa.ann, "MIN_RECALL", 0.999)
    vectors = _clustered_unit_vectors(3000)
    index, search = build_chunk_search(vectors, vectors[:300], exact_max=1000)
    assert search.kind == "exact"
    assert type(index).__name__ == "IndexFlatIP"


@pytest.mark.slow
def test_index_above_the_exact_limit_uses_hnsw_recorded_in_the_manifest(built_settings, tmp_path, monkeypatch):
    exact_answer = QA(built_settings).ask("Who wrote the Innovation in Action report?")
    monkeypatch.setattr(pdqa.ann, "EXACT_MAX_CHUNKS", 5)
    settings = built_settings.changed(index={"dir": tmp_path / "hnsw" / "default"})

    build_index(settings)

    index = Index.open(settings)
    manifest = read_manifest(index.path)
    assert manifest.chunk_search.kind == "hnsw"
    assert manifest.chunk_search.recall_at_10 >= MIN_RECALL
    assert index.chunk_index.hnsw.efSearch == manifest.chunk_search.ef_search
    index.close()
    answer = QA(settings).ask("Who wrote the Innovation in Action report?")
    assert answer.citations == exact_answer.citations

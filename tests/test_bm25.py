"""Tests for pdqa.bm25: the BM25 index saved at build time ranks as bm25s does in memory."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest
import Stemmer

from pdqa.bm25 import BM25_DIR, BM25_FILES, BM25Ranker, best_positive, keyword_text
from pdqa.index import Index

QUERIES = [
    "Who wrote the Innovation in Action report?",
    "clive house noms",
    "How long is the initial contract?",
    "personality disorder services commissioned by the Department of Health",
    "vacancy",
]


@pytest.fixture(scope="module")
def index(built_settings):
    index = Index.open(built_settings)
    yield index
    index.close()


@pytest.fixture(scope="module")
def in_memory(index):
    """bm25s over the same texts, tokenised as pdqa documents it, never saved."""
    stemmer = Stemmer.Stemmer("english")
    texts = [keyword_text(chunk) for chunk in index.store.iter_chunks()]
    model = bm25s.BM25()
    model.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    return model, stemmer


def _in_memory_scores(in_memory, query: str) -> np.ndarray:
    model, stemmer = in_memory
    tokens = bm25s.tokenize([query], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False)[0]
    return model.get_scores(tokens)


@pytest.mark.parametrize("query", QUERIES)
def test_saved_index_ranks_and_scores_as_bm25s_in_memory(index, in_memory, query):
    expected = best_positive(_in_memory_scores(in_memory, query), 50)

    ranked = index.bm25.rank(query, 50)

    assert ranked, "every query here shares a word with the report"
    assert [position for position, _ in ranked] == [position for position, _ in expected]
    assert [score for _, score in ranked] == [score for _, score in expected]


def test_the_index_loads_bm25_from_its_folder_memory_mapped(index):
    # The score arrays stay on disk: only a question's columns are read.
    scores = index.bm25._model.scores
    assert all(isinstance(scores[name], np.memmap) for name in ("data", "indices", "indptr"))
    assert {f"{BM25_DIR}/{p.name}" for p in (index.path / BM25_DIR).iterdir()} == set(BM25_FILES)


def test_a_query_without_indexed_words_ranks_nothing(index):
    assert index.bm25.rank("the of and", 10) == []  # stopwords only
    assert index.bm25.rank("zyxwvut qqqq", 10) == []  # words no chunk has


def test_build_save_load_round_trip_keeps_every_score(tmp_path):
    texts = ["The pilot sites reported savings.", "A garden was planted by patients.", "Savings of the pilots."]
    built = BM25Ranker.build(texts)
    built.save(tmp_path / BM25_DIR)
    loaded = BM25Ranker.load(tmp_path / BM25_DIR)

    for query in ("pilot savings", "gardens planted", "patients"):
        assert loaded.rank(query, 10) == built.rank(query, 10) != []
    # Stemmed as the chunks were: "saving pilots" finds "savings" and "pilot", not the garden.
    assert sorted(p for p, _ in loaded.rank("saving pilots", 10)) == [0, 2]


def test_keyword_text_adds_the_section_unless_the_text_starts_with_it(index):
    chunk = next(c for c in index.store.iter_chunks() if c.section and not c.text.startswith(c.section))
    assert keyword_text(chunk) == f"{chunk.section}\n{chunk.text}"
    assert keyword_text(chunk.model_copy(update={"text": chunk.section + " body"})) == chunk.section + " body"


def test_best_positive_scores_are_the_top_ones_best_first_ties_in_chunk_order():
    rng = np.random.default_rng(0)
    scores = np.zeros(5000, dtype=np.float32)
    scores[rng.choice(5000, 300, replace=False)] = rng.integers(1, 40, 300)  # many ties
    ranked = best_positive(scores, 20)

    expected = sorted(np.flatnonzero(scores).tolist(), key=lambda p: (-scores[p], p))[:20]
    assert [position for position, _ in ranked] == expected
    assert [score for _, score in ranked] == [float(scores[p]) for p in expected]
    assert best_positive(np.zeros(10, dtype=np.float32), 5) == []
    assert [position for position, _ in best_positive(scores, 1000)] == sorted(
        np.flatnonzero(scores).tolist(), key=lambda p: (-scores[p], p)
    )

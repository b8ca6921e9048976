"""Retrieval stage: dense (FAISS) and BM25 (bm25s) rankings fused by reciprocal rank fusion."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .index import Index
from .models import Hit, reference
from .settings import RetrievalSettings


@dataclass
class _Ranked:
    position: int  # the chunk's row in the index
    score: float
    rank: int


def _ranking(pairs: list[tuple[int, float]]) -> list[_Ranked]:
    """(position, score) pairs, best first, with their 1-based ranks."""
    return [_Ranked(position, score, rank) for rank, (position, score) in enumerate(pairs, start=1)]


class HybridRetriever:
    """Dense + BM25 retrieval over a loaded index, fused with reciprocal rank fusion."""

    def __init__(self, index: Index, settings: RetrievalSettings):
        self.index = index
        self.settings = settings

    def dense(self, query_vector: np.ndarray, limit: int) -> list[_Ranked]:
        """Chunks by cosine similarity to the query vector, best first."""
        k = min(limit, self.index.chunk_count)
        with one_faiss_thread():
            scores, positions = self.index.chunk_index.search(query_vector.reshape(1, -1), k)
        pairs = [(int(p), float(s)) for p, s in zip(positions[0], scores[0]) if p >= 0]
        return _ranking(pairs)

    def retrieve(self, query: str, query_vector: np.ndarray, k: int | None = None) -> list[Hit]:
        """Return the top ``k`` chunks for the query with fused and component scores.

        Args:
            query: The question text (for BM25).
            query_vector: Its normalised embedding (for the dense ranking).
            k: How many hits; defaults to ``settings.top_k``.
        """
        limit = self.settings.candidates
        dense = {r.position: r for r in self.dense(query_vector, limit)}
        lexical = {r.position: r for r in _ranking(self.index.bm25.rank(query, limit))}
        fused = {
            position: self._rrf(dense.get(position), lexical.get(position))
            for position in dense.keys() | lexical.keys()
        }
        order = sorted(fused, key=lambda p: (-fused[p], p))[: k or self.settings.top_k]
        return [
            self._hit(rank, position, fused[position], dense.get(position), lexical.get(position))
            for rank, position in enumerate(order, start=1)
        ]

    def _rrf(self, dense: _Ranked | None, lexical: _Ranked | None) -> float:
        score = 0.0
        if dense is not None:
            score += self.settings.dense_weight / (self.settings.rrf_k + dense.rank)
        if lexical is not None:
            score += self.settings.bm25_weight / (self.settings.rrf_k + lexical.rank)
        return score

    def _hit(self, rank, position, score, dense: _Ranked | None, lexical: _Ranked | None) -> Hit:
        chunk = self.index.chunk(position)
        return Hit(
            rank=rank,
            **reference(chunk),
            start=chunk.start,
            end=chunk.end,
            text=chunk.text,
            page=chunk.page,
            page_label=chunk.page_label,
            score=score,
            dense_score=dense.score if dense else None,
            dense_rank=dense.rank if dense else None,
            bm25_score=lexical.score if lexical else None,
            bm25_rank=lexical.rank if lexical else None,
        )


@contextmanager
def one_faiss_thread():
    """Search one query on one thread, then give FAISS back its thread count.

    One query is too small to share out: on this 2-core machine, busy with other work, FAISS's
    OpenMP threads waiting for each other made exact search over 10,000 chunks take 60 ms
    instead of 2.3 ms (measured with bench/scale.py's corpus sizes).
    """
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


@dataclass
class UnitCandidate:
    """A unit the answer stage considers, with what the first stage saw of it."""

    unit_id: int
    score: float  # the first stage's fused score (reciprocal ranks)
    chunk_rank: int | None  # rank of its chunk among the retrieved passages, None when only BM25 found it
    dense: float = 0.0  # cosine similarity of the unit to the question
    bm25_rank: int | None = None  # rank by BM25 over units, None when not among its best


def candidate_units(index: Index, query: str, query_vector: np.ndarray, hits: list[Hit], lexical: int,
                    rrf_k: int = 5) -> list[UnitCandidate]:
    """The units an answer may come from, best first: those of the retrieved passages, and the
    units of the whole index that BM25 over units ranks highest (a sentence whose passage the
    passage retrievers missed). Ranked by reciprocal-rank fusion of their similarity to the
    question, their BM25 rank and their passage's rank.

    Args:
        index: The loaded index.
        query: The question.
        query_vector: Its embedding.
        hits: The retrieved passages, best first.
        lexical: How many units BM25 over units adds from the whole index.
        rrf_k: The fusion constant.
    """
    chunk_rank: dict[int, int] = {}
    for rank, hit in enumerate(hits, start=1):
        for unit in index.units_of(hit.chunk_id):
            chunk_rank.setdefault(unit.unit_id, rank)
    bm25_rank: dict[int, int] = {}
    if lexical and index.unit_bm25 is not None:
        scores = index.unit_bm25.scores(query)
        if scores is not None:
            from .bm25 import best_positive

            bm25_rank = {unit_id: rank for rank, (unit_id, _) in enumerate(best_positive(scores, lexical), start=1)}
    ids = list(dict.fromkeys([*chunk_rank, *bm25_rank]))
    if not ids:
        return []
    dense = np.asarray(index.unit_vectors[ids]) @ query_vector
    order = np.argsort(-dense, kind="stable")
    dense_rank = {ids[i]: rank for rank, i in enumerate(order, start=1)}
    fused = []
    for position, unit_id in enumerate(ids):
        score = 1.0 / (rrf_k + dense_rank[unit_id])
        if unit_id in bm25_rank:
            score += 1.0 / (rrf_k + bm25_rank[unit_id])
        if unit_id in chunk_rank:
            score += 1.0 / (rrf_k + chunk_rank[unit_id])
        fused.append(UnitCandidate(unit_id, score, chunk_rank.get(unit_id), float(dense[position]),
                                   bm25_rank.get(unit_id)))
    return sorted(fused, key=lambda c: (-c.score, c.unit_id))

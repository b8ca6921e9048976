"""Dense chunk search structure: exact FAISS inner product up to a size, HNSW above it.

Exact search (``IndexFlatIP``) scans every vector; its cost grows with the corpus. Above
``EXACT_MAX_CHUNKS`` chunks the index is an HNSW graph instead, and the build measures its
recall@10 against exact search on a sample of the corpus's own sentence vectors, raising
``efSearch`` until recall reaches ``MIN_RECALL`` (or keeping exact search if it never does).
The choice and the measured recall go into the manifest.
"""

from __future__ import annotations

import numpy as np

from .models import ChunkSearch

# Exact search of one query on one thread took 0.3 ms over 10,000 and 5.6-7.5 ms over 100,000
# chunk vectors on this 2-core machine (bench/scale.py), so it stays well inside the 50 ms
# warm-answer target up to about 150,000 chunks (about 10 ms). HNSW, chosen above that, was
# calibrated on the corpus's own sentences (recall@10 0.984 at efSearch 16 over 100,000 chunks)
# but reached only 0.916 on SQuAD questions: exact search is kept wherever it is affordable.
EXACT_MAX_CHUNKS = 150_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
EF_SEARCH_CHOICES = (16, 32, 64, 128, 256)
MIN_RECALL = 0.95
RECALL_K = 10
RECALL_QUERIES = 500


def build_chunk_search(vectors: np.ndarray, probes: np.ndarray, exact_max: int | None = None):
    """Build the FAISS index over chunk vectors.

    Args:
        vectors: Unit-length chunk vectors, one row per chunk.
        probes: Vectors to measure approximate recall with (the corpus's sentence vectors).
        exact_max: Largest chunk count searched exactly; default ``EXACT_MAX_CHUNKS``.

    Returns:
        The FAISS index and the ChunkSearch record for the manifest.
    """
    if len(vectors) <= (EXACT_MAX_CHUNKS if exact_max is None else exact_max):
        return _exact(vectors), ChunkSearch(kind="exact")
    exact = _exact(vectors)
    queries = _sample(probes if len(probes) else vectors)
    _, truth = exact.search(queries, RECALL_K)
    hnsw = _hnsw(vectors)
    for ef_search in EF_SEARCH_CHOICES:
        hnsw.hnsw.efSearch = ef_search
        recall = recall_at_k(hnsw.search(queries, RECALL_K)[1], truth)
        if recall >= MIN_RECALL:
            return hnsw, ChunkSearch(
                kind="hnsw",
                hnsw_m=HNSW_M,
                ef_construction=HNSW_EF_CONSTRUCTION,
                ef_search=ef_search,
                recall_at_10=round(recall, 4),
                recall_queries=len(queries),
            )
    return exact, ChunkSearch(kind="exact")


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top-k ids that the approximate top-k also holds, over all queries."""
    hits = sum(len(set(f[f >= 0]) & set(t[t >= 0])) for f, t in zip(found, truth))
    return hits / max(int((truth >= 0).sum()), 1)


def _exact(vectors: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _hnsw(vectors: np.ndarray):
    import faiss

    index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _sample(probes: np.ndarray) -> np.ndarray:
    # A fixed seed: the same corpus gives the same recall figure in every build.
    rng = np.random.default_rng(0)
    chosen = rng.choice(len(probes), size=min(RECALL_QUERIES, len(probes)), replace=False)
    return np.ascontiguousarray(probes[np.sort(chosen)], dtype=np.float32)

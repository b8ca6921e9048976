"""Keyword stage: the BM25 index of the chunks (bm25s), built with the index and mapped at load.

Tokenising and indexing every chunk at each load took 10 s at 100,000 chunks (bench/scale.py),
so the build saves bm25s's own files in the index folder (``bm25/``) and a load memory-maps
them: only the score columns of a question's words are read from disk. A question is tokenised
as the chunks were at build time (bm25s's English stopwords, PyStemmer's English stemmer), and
bm25s maps its tokens to the saved vocabulary.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .models import Chunk

BM25_DIR = "bm25"  # over the chunks (passage retrieval)
UNIT_BM25_DIR = "bm25_units"  # over the units (the answer stage's candidates from the whole index)
_SAVED = ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy", "vocab.index.json", "params.index.json")


def bm25_files(folder: str) -> tuple[str, ...]:
    """What bm25s.BM25.save writes without a corpus for the default (Lucene) scoring, below ``folder``."""
    return tuple(f"{folder}/{name}" for name in _SAVED)


BM25_FILES = bm25_files(BM25_DIR)
UNIT_BM25_FILES = bm25_files(UNIT_BM25_DIR)
# Words of two letters or more; superscript footnote markers ("years²⁴") are not part of a word.
TOKEN_PATTERN = r"(?u)[^\W_⁰¹²³⁴⁵⁶⁷⁸⁹]{2,}"


def keyword_text(chunk: Chunk) -> str:
    """What BM25 sees of a chunk: its section heading too, so "vacancy" finds the notice.

    The dense retriever sees the chunk text alone: a long heading prepended to a short
    paragraph pulls its vector towards the heading and away from what the paragraph says.
    """
    if chunk.section and not chunk.text.startswith(chunk.section):
        return f"{chunk.section}\n{chunk.text}"
    return chunk.text


class BM25Ranker:
    """BM25 over the chunk store: :meth:`build` at index build time, :meth:`load` after."""

    def __init__(self, model):
        import bm25s
        import Stemmer

        self._bm25s = bm25s
        self._stemmer = Stemmer.Stemmer("english")
        self._model = model

    @classmethod
    def build(cls, texts: list[str]) -> BM25Ranker:
        """Tokenise and index ``texts`` (one per chunk, in chunk order) in memory."""
        import bm25s

        ranker = cls(bm25s.BM25())
        tokens = ranker._tokenize(texts, return_ids=True)
        ranker._model.index(tokens, show_progress=False)
        return ranker

    def save(self, folder: Path) -> None:
        """Write the index as bm25s's files (:data:`BM25_FILES`, below the index folder)."""
        self._model.save(folder, show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> BM25Ranker:
        """Open an index :meth:`save` wrote, its score arrays memory-mapped."""
        import bm25s

        return cls(bm25s.BM25.load(folder, mmap=True, show_progress=False))

    def rank(self, query: str, limit: int) -> list[tuple[int, float]]:
        """(chunk position, score) of the chunks with a positive BM25 score, best first, at most ``limit``."""
        tokens = self._tokenize([query], return_ids=False)[0]
        if not tokens:
            return []
        return best_positive(self._model.get_scores(tokens), limit)

    def _tokenize(self, texts: list[str], return_ids: bool):
        return self._bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=return_ids,
            token_pattern=TOKEN_PATTERN,
        )

    def scores(self, query: str):
        """The BM25 score of every indexed text for ``query`` (zeros when it has no known word)."""
        tokens = self._tokenize([query], return_ids=False)[0]
        if not tokens:
            return None
        return self._model.get_scores(tokens)


def best_positive(scores: np.ndarray, limit: int) -> list[tuple[int, float]]:
    """(position, score) of the ``limit`` best positive scores, best first, ties in chunk order.

    Selected among the positive scores only: most chunks share no word with a question and
    score 0, and numpy's argpartition over 100,000 mostly equal values took 64 ms, against 2 ms
    over the positive ones (bench/scale.py's corpus, this machine).
    """
    positive = np.flatnonzero(scores > 0)
    if len(positive) > limit:
        cutoff = np.partition(scores[positive], len(positive) - limit)[len(positive) - limit]
        positive = positive[scores[positive] >= cutoff]  # keeps every chunk tied at the cut
    order = positive[np.lexsort((positive, -scores[positive]))][:limit]
    return [(int(p), float(scores[p])) for p in order]

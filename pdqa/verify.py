"""Verification stage: keep only the sentences of an LLM answer that their cited passages support.

Each sentence of the reply is checked on its own, in this order:

1. its [n] markers must name passages that were given; other numbers are dropped;
2. a sentence left with no valid citation is unsupported;
3. every number and capitalised name in it must appear in a cited passage (text, title or section);
4. some sentence or list of a cited passage must mean the same: the best cosine similarity between
   the sentence and the passage's units (MiniLM through the ONNX encoder) must reach
   ``settings.llm.support_threshold``. A long unit is also compared clause by clause, since a
   short claim drawn from one clause of a long sentence scores low against the whole of it.
   A unit that gives orders ("ignore previous instructions and say ...") never counts as
   support: a passage that tells the model to say X does not state X.

A kept sentence is cited to the unit that supports it best, plus, for each number or name that
unit lacks, the unit of a cited passage that holds it, so every citation quotes the exact span.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .chunking import split_sentences
from .embeddings import Embedder
from .index import IndexData
from .models import Chunk, Hit, RemovedClaim, Unit
from .question import gives_orders
from .text import CAPITALISED_RE, MARKER_RE, NUMBER_WORDS, STOPWORDS, numbers, words
BULLET_RE = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s+")
CLAUSE_RE = re.compile(r"[,;:()]|\s[–—-]\s")
CLAUSE_UNIT_CHARS = 80  # units shorter than this are compared whole only
# "one" is a pronoun more often than a number ("one of the pilots").
COUNT_WORDS = NUMBER_WORDS - {"one"}


@dataclass
class Claim:
    """One sentence of the reply and the passage numbers written with it."""

    text: str
    cited: list[int] = field(default_factory=list)


@dataclass
class KeptClaim:
    """A sentence that verification kept, with the units (and their chunks) that support it."""

    text: str
    support: list[tuple[Unit, Chunk]]


@dataclass
class Verification:
    """The outcome for a whole reply."""

    kept: list[KeptClaim]
    removed: list[RemovedClaim]
    not_found: bool


class Verifier:
    """Checks replies against the units of the index the passages came from.

    Args:
        index: The loaded index (its units and their vectors are reused, never re-embedded).
        embedder: Encodes the reply's sentences into the same space as the unit vectors.
        threshold: Lowest cosine similarity that counts as support.
        not_found: The fixed reply for "the passages do not say".
    """

    def __init__(self, index: IndexData, embedder: Embedder, threshold: float, not_found: str):
        self.index = index
        self.embedder = embedder
        self.threshold = threshold
        self.not_found = _plain(not_found)
        self.chunks = index.chunk_by_id
        self._clause_vectors: dict[int, np.ndarray] = {}

    def verify(self, raw_answer: str, hits: list[Hit]) -> Verification:
        """Check every sentence of ``raw_answer``, whose [n] refer to ``hits`` numbered from 1."""
        claims = split_claims(raw_answer)
        not_found = [c for c in claims if _plain(c.text).startswith(self.not_found.rstrip("."))]
        answers = [c for c in claims if c not in not_found]
        vectors = self.embedder.embed([c.text for c in answers]) if answers else []
        kept, removed = [], []
        for claim, vector in zip(answers, vectors):
            outcome = self._check(claim, vector, hits)
            (kept if isinstance(outcome, KeptClaim) else removed).append(outcome)
        if not_found and kept:
            # "Not found" beside supported claims contradicts them; the claims carry the evidence.
            removed += [_removed(c, "not-found reply beside supported claims") for c in not_found]
        return Verification(kept, removed, bool(not_found) and not kept)

    def _check(self, claim: Claim, vector: np.ndarray, hits: list[Hit]) -> KeptClaim | RemovedClaim:
        given = [n for n in dict.fromkeys(claim.cited) if 1 <= n <= len(hits)]
        if not claim.cited:
            return _removed(claim, "no citation")
        if not given:
            bad = ", ".join(f"[{n}]" for n in claim.cited)
            return _removed(claim, f"cites {bad}, which was not among the {len(hits)} passages given")
        chunks = [self.chunks[hits[n - 1].chunk_id] for n in given]
        sources = [_chunk_words(chunk) for chunk in chunks]
        missing = [t for t in salient_terms(claim.text) if not any(_holds(held, t) for held in sources)]
        if missing:
            return _removed(claim, f"{_kind(missing[0])} {missing[0]!r} is not in the cited passage(s)")
        return self._supported(claim, vector, chunks)

    def _supported(self, claim: Claim, vector: np.ndarray, chunks: list[Chunk]) -> KeptClaim | RemovedClaim:
        units = [(u, c) for c in chunks for u in self.index.units_by_chunk.get(c.chunk_id, [])]
        scores = np.array([self.similarity(unit, vector) for unit, _ in units])
        facts = [i for i, (u, _) in enumerate(units) if not gives_orders(u.text)]
        best = max(facts, key=lambda i: scores[i], default=None)
        if best is None or scores[best] < self.threshold:
            if len(facts) < len(units) and max(scores) >= self.threshold:
                return _removed(claim, "only an instruction inside the cited passage says this")
            similarity = float(scores[best]) if best is not None else 0.0
            why = f"similarity {similarity:.2f} < {self.threshold:.2f}"
            return _removed(claim, f"not supported by the cited passage(s) ({why})")
        support = [units[best]] + self._holders(claim.text, units[best], [units[i] for i in facts])
        return KeptClaim(text=claim.text, support=support)

    def similarity(self, unit: Unit, vector: np.ndarray) -> float:
        """Best cosine between a claim's vector and the unit, or one of the unit's clauses."""
        best = float(self.index.unit_vectors[unit.unit_id] @ vector)
        clauses = self._clauses_of(unit)
        return max(best, float(np.max(clauses @ vector))) if len(clauses) else best

    def _clauses_of(self, unit: Unit) -> np.ndarray:
        # Embedded on first use and kept: only units of retrieved passages are ever needed.
        if unit.unit_id not in self._clause_vectors:
            parts = clauses(unit.text) if len(unit.text) >= CLAUSE_UNIT_CHARS else []
            self._clause_vectors[unit.unit_id] = self.embedder.embed(parts) if parts else np.zeros((0, 1))
        return self._clause_vectors[unit.unit_id]

    def _holders(self, text: str, best: tuple[Unit, Chunk], units: list[tuple[Unit, Chunk]]) -> list:
        """Units that hold the numbers and names the best unit lacks, one per term."""
        have = _words(best[0].text)
        holders: list[tuple[Unit, Chunk]] = []
        for term in salient_terms(text):
            if _holds(have, term):
                continue
            holder = next((pair for pair in units if _holds(_words(pair[0].text), term)), None)
            if holder is not None and holder not in holders and holder != best:
                holders.append(holder)
                have |= _words(holder[0].text)
        return holders


def split_claims(raw_answer: str) -> list[Claim]:
    """The reply's sentences, each with the passage numbers written beside it.

    Markers may follow a sentence ("... in 2004 [2].", "... in 2004. [2]") or, as small base models
    write when shown that style, open it ("[2] ... in 2004."). A reply that opens with a marker is
    read in the second style throughout.
    """
    leading = bool(re.match(r"\s*\[\s*\d", raw_answer))
    claims: list[Claim] = []
    for line in raw_answer.splitlines():
        claims += _line_claims(BULLET_RE.sub("", line), leading)
    return claims


def _line_claims(line: str, leading: bool) -> list[Claim]:
    text, markers = "", []
    position = 0
    for match in MARKER_RE.finditer(line):
        # The space before a marker belongs to it: "so [1]." reads "so." once the marker is gone.
        text += line[position : match.start()].rstrip()
        cited = [int(n) for n in re.split(r"[,;]", match.group(1))]
        markers.append((len(text), cited))
        position = match.end()
    text += line[position:]
    spans = split_sentences(text)
    claims = [Claim(text[start:end]) for start, end in spans]
    for at, cited in markers:
        if claims:
            claims[_owner(spans, at, leading)].cited += cited
    return [c for c in claims if words(c.text)]


def _owner(spans: list[tuple[int, int]], at: int, leading: bool) -> int:
    """Index of the sentence a marker at character ``at`` of the marker-free line belongs to."""
    if leading:
        return next((i for i, (_, end) in enumerate(spans) if end > at), len(spans) - 1)
    return max((i for i, (start, _) in enumerate(spans) if start <= at), default=0)


def clauses(text: str) -> list[str]:
    """The clauses of a long unit, and each pair of neighbouring clauses, with three words or more."""
    parts = [" ".join(p.split()) for p in CLAUSE_RE.split(text)]
    parts = [p for p in parts if len(p.split()) >= 3]
    if len(parts) < 2:
        return []
    return parts + [f"{a} {b}" for a, b in zip(parts, parts[1:])]


def salient_terms(text: str) -> list[str]:
    """Numbers (digits or count words) and capitalised names that a source must also contain."""
    terms = numbers(text)
    terms += [w for w in words(text) if w in COUNT_WORDS]
    for name in CAPITALISED_RE.findall(text):
        word = name.strip("’'-").lower()
        if len(word) > 1 and word not in STOPWORDS:
            terms.append(name.strip("’'-"))
    return list(dict.fromkeys(terms))


def _kind(term: str) -> str:
    return "number" if term[0].isdigit() or term in COUNT_WORDS else "name"


def _words(text: str) -> set[str]:
    """Lower-cased words plus digit runs with thousands separators removed."""
    return set(words(text)) | set(numbers(text))


def _chunk_words(chunk: Chunk) -> set[str]:
    return _words(" ".join((chunk.text, chunk.title, chunk.section)))


def _holds(held: set[str], term: str) -> bool:
    return term.lower() in held or all(part in held for part in words(term))


def _plain(text: str) -> str:
    return " ".join(MARKER_RE.sub("", text).lower().split())


def _removed(claim: Claim, reason: str) -> RemovedClaim:
    return RemovedClaim(sentence=claim.text, reason=reason)

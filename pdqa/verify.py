"""Verification stage: keep only the sentences of an LLM answer that their cited passages support
and that answer the question.

The reply is first read within limits (``settings.llm.reply_max_chars`` characters and
``reply_max_sentences`` sentences); lines that echo the prompt (its rules, ``<passage>`` markup,
the "Question:" line) are dropped, and a sentence said twice is checked once. Each sentence is
then checked on its own, in this order:

0. a sentence that ends with a colon ("The main findings were:") only announces what follows;
   it states nothing, so it is never kept (the items after it are sentences of their own); nor is
   a sentence with no content word beyond the question's ("The pilots achieved results." for
   "What results did the pilots achieve?"), unless the question asks yes or no;
1. its [n] markers must name passages that were given; other numbers are dropped;
2. a sentence left with no valid citation is unsupported; one written without any [n] is checked
   against every passage given instead (``settings.llm.attribute_uncited``, on by default);
3. every number and name in it must appear in a cited passage (text, title or section); a
   capitalised word that opens the sentence is a name only if the corpus never writes it in
   lower case and it is not a common word ("Overall", "However");
4. some sentence or list of a cited passage must mean the same: the best cosine similarity between
   the sentence and the passage's units (MiniLM through the ONNX encoder) must reach
   ``settings.llm.support_threshold``. A long unit is also compared clause by clause, since a
   short claim drawn from one clause of a long sentence scores low against the whole of it.
   That sentence must also hold what the claim adds to the question: at least
   ``settings.llm.support_coverage`` of the claim's content words that the question lacks.
   A unit that gives orders ("ignore previous instructions and say ...") never counts as
   support: a passage that tells the model to say X does not state X;
5. the supporting span must have the same polarity: a negation (not, no, never, ...) or a
   direction (more/less, increase/decrease, above/below) that differs contradicts it, and so
   does a number put where the span states another (a year from one passage on another's fact);
6. a sentence supported only by a heading restates a title; it answers nothing;
7. it must answer the question: the learned unit scorer of the extractive path gives the unit that
   supports it a probability of answering (see :meth:`Verifier.relevance`), which must reach
   ``settings.llm.relevance_threshold``, and be among the ``settings.llm.relevance_rank`` units
   the scorer ranks highest (that many per part of a compound question).

A kept sentence is cited to the unit that supports it best, plus, for each number or name that
unit lacks, the unit of a cited passage that holds it, so every citation quotes the exact span.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .chunking import split_sentences
from .embeddings import Embedder
from .generate import may_echo, unecho
from .index import IndexData
from .models import Chunk, Hit, RemovedClaim, Unit
from .question import Question, gives_orders
from .settings import LLMSettings
from .text import (
    CAPITALISED_RE,
    MARKER_RE,
    NUMBER_WORDS,
    STOPWORDS,
    WORD_RE,
    content_terms,
    negated,
    normalise_word,
    numbers,
    words,
)

BULLET_RE = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s+")
CLAUSE_RE = re.compile(r"[,;:()]|\s[–—-]\s")
CLAUSE_UNIT_CHARS = 80  # units shorter than this are compared whole only
# "one" is a pronoun more often than a number ("one of the pilots").
COUNT_WORDS = NUMBER_WORDS - {"one"}
# Sentence adverbs and connectives of general English: capitalised only because they open a
# sentence, so never names even when a corpus happens not to use them in lower case.
CONNECTIVES = frozenset(
    """overall however finally firstly secondly thirdly lastly additionally moreover furthermore
    therefore thus hence consequently meanwhile nevertheless nonetheless instead similarly likewise
    indeed notably importantly specifically generally typically currently previously initially
    subsequently altogether yes""".split()
)
DIRECTION_WORDS = {
    "up": re.compile(
        r"\b(?:more|increas\w*|higher|above|greater|rise|rises|rising|rose|risen|grew|grow\w*)\b", re.IGNORECASE
    ),
    "down": re.compile(
        r"\b(?:less|fewer|decreas\w*|lower|below|reduc\w*|fall|falls|falling|fell|declin\w*)\b", re.IGNORECASE
    ),
}
CONTRADICTS = "contradicts the cited passage"
LEAD_IN = "only introduces what follows; it states nothing"
RESTATES = "only restates the question"
DOES_NOT_ANSWER = "does not answer the question"


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


@dataclass(frozen=True)
class Asked:
    """The question as verification reads it: the learned unit scorer's probability, for each unit
    of the retrieved passages, that it answers the question (the best part of a compound question);
    the question's content terms; whether it asks yes or no; how many parts it was split into."""

    unit_probabilities: dict[int, float]
    question_terms: frozenset[str] = frozenset()
    yes_no: bool = False
    parts: int = 1

    @classmethod
    def of(cls, parts: list[Question], unit_probabilities: dict[int, float]) -> Asked:
        """What relevance needs of a question asked in ``parts`` (one, or each of a compound)."""
        return cls(
            unit_probabilities,
            question_terms=frozenset(t for q in parts for t in content_terms(q.text)),
            yes_no=any(q.kind == "yesno" for q in parts),
            parts=len(parts),
        )

    def rank(self, unit: Unit) -> int:
        """1 for the unit the answer model scores highest, 2 for the next, ..."""
        score = self.unit_probabilities.get(unit.unit_id, 0.0)
        return 1 + sum(p > score for p in self.unit_probabilities.values())


class NotFoundClaim(RemovedClaim):
    """The model's fixed "not found" reply: neither kept nor a fault, decided on at the end."""


class Verifier:
    """Checks replies against the units of the index the passages came from.

    Args:
        index: The loaded index (its units and their vectors are reused, never re-embedded).
        embedder: Encodes the reply's sentences into the same space as the unit vectors.
        settings: The LLM settings (support and relevance thresholds, reply limits).
        not_found: The fixed reply for "the passages do not say".
    """

    def __init__(
        self, index: IndexData, embedder: Embedder, settings: LLMSettings, not_found: str
    ):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.threshold = settings.support_threshold
        self.not_found = _plain(not_found)
        self.chunks = index.chunk_by_id
        self._clauses: dict[int, tuple[list[str], np.ndarray]] = {}

    def verify(self, raw_answer: str, hits: list[Hit], asked: Asked) -> Verification:
        """Check every sentence of ``raw_answer``, whose [n] refer to ``hits`` numbered from 1."""
        reader = ReplyReader(self.settings.reply_max_chars, self.settings.reply_max_sentences)
        claims = reader.feed(raw_answer) + reader.finish()
        return self.conclude([self.check(c, hits, asked) for c in claims])

    def check(self, claim: Claim | RemovedClaim, hits: list[Hit], asked: Asked) -> KeptClaim | RemovedClaim:
        """The verdict on one sentence; a RemovedClaim from the reader (echo, repeat) stands as it is."""
        if isinstance(claim, RemovedClaim):
            return claim
        if _plain(claim.text).startswith(self.not_found.rstrip(".")):
            return NotFoundClaim(sentence=claim.text, reason="not-found reply beside supported claims")
        return self._check(claim, self.embedder.embed([claim.text])[0], hits, asked)

    @staticmethod
    def conclude(verdicts: list[KeptClaim | RemovedClaim]) -> Verification:
        """Gather the verdicts; a lone "not found" reply is the model abstaining."""
        kept = [v for v in verdicts if isinstance(v, KeptClaim)]
        not_found = [v for v in verdicts if isinstance(v, NotFoundClaim)]
        removed = [v for v in verdicts if isinstance(v, RemovedClaim) and not isinstance(v, NotFoundClaim)]
        # "Not found" beside supported claims contradicts them; the claims carry the evidence.
        if kept:
            removed += [RemovedClaim(sentence=v.sentence, reason=v.reason) for v in not_found]
        return Verification(kept, removed, bool(not_found) and not kept)

    def _check(self, claim: Claim, vector: np.ndarray, hits: list[Hit], asked: Asked) -> KeptClaim | RemovedClaim:
        if claim.text.rstrip().endswith(":"):
            return _removed(claim, LEAD_IN)
        new_terms = set(content_terms(claim.text)) - asked.question_terms
        if not new_terms and asked.question_terms and not asked.yes_no:
            return _removed(claim, RESTATES)
        given = [n for n in dict.fromkeys(claim.cited) if 1 <= n <= len(hits)]
        if not claim.cited and self.settings.attribute_uncited:
            # Small instruction-tuned models rarely write [n]; the same checks then search every
            # passage given, and a kept sentence is cited to the span that supports it.
            given = list(range(1, len(hits) + 1))
        elif not claim.cited:
            return _removed(claim, "no citation")
        if not given:
            bad = ", ".join(f"[{n}]" for n in claim.cited)
            return _removed(claim, f"cites {bad}, which was not among the {len(hits)} passages given")
        chunks = [self.chunks[hits[n - 1].chunk_id] for n in given]
        where = "the cited passage(s)" if claim.cited else "any passage given (uncited)"
        sources = [_chunk_words(chunk) for chunk in chunks]
        missing = [t for t in self.salient_terms(claim.text) if not any(_holds(held, t) for held in sources)]
        if missing:
            return _removed(claim, f"{_kind(missing[0])} {missing[0]!r} is not in {where}")
        outcome = self._supported(claim, vector, chunks, where, new_terms)
        if isinstance(outcome, RemovedClaim):
            return outcome
        unit, chunk = outcome.support[0]
        if unit.kind == "heading":
            return _removed(claim, "only a heading, not an answer")
        score = self.relevance(asked, unit)
        if score < self.settings.relevance_threshold:
            return _removed(claim, f"{DOES_NOT_ANSWER} (score {score:.2f} < {self.settings.relevance_threshold:.2f})")
        rank, allowed = asked.rank(unit), self.settings.relevance_rank * asked.parts
        if rank > allowed:
            return _removed(claim, f"{DOES_NOT_ANSWER} (its source ranks {rank}; the answer model's top {allowed} count)")
        return outcome

    @staticmethod
    def relevance(asked: Asked, unit: Unit) -> float:
        """How likely the passage unit that supports a sentence answers the question.

        The answer-selection model of the extractive path scores every unit of the retrieved
        passages; a kept sentence is as relevant as the unit it was verified against. A faithful
        sentence drawn from a unit that does not answer the question ("The pilot services all
        demonstrated the following fundamental assumptions" for "How many pilot sites were
        there?") scores low and is removed.
        """
        return asked.unit_probabilities.get(unit.unit_id, 0.0)

    def _supported(
        self, claim: Claim, vector: np.ndarray, chunks: list[Chunk], where: str, new_terms: set[str]
    ) -> KeptClaim | RemovedClaim:
        units = [(u, c) for c in chunks for u in self.index.units_by_chunk.get(c.chunk_id, [])]
        spans = [(score, text, pair) for pair in units for score, text in self._span_scores(pair[0], vector)]
        supporting = [s for s in spans if s[0] >= self.threshold]
        facts = [s for s in supporting if not gives_orders(s[2][0].text)]
        agreeing = [s for s in facts if not contradicts(claim.text, s[1])]
        # A unit's terms once, not once per clause span of it.
        held = {s[2][0].unit_id: set(content_terms(s[2][0].text)) for s in agreeing}
        covered = [s for s in agreeing if coverage(new_terms, held[s[2][0].unit_id]) >= self.settings.support_coverage]
        if covered:
            best = max(covered, key=lambda s: s[0])[2]
            fact_units = [pair for pair in units if not gives_orders(pair[0].text)]
            return KeptClaim(text=claim.text, support=[best] + self._holders(claim.text, best, fact_units))
        if agreeing:
            closest = max(agreeing, key=lambda s: s[0])[2][0]
            absent = new_terms - held[closest.unit_id]
            said = dict.fromkeys(w for w in words(claim.text) if w not in STOPWORDS and normalise_word(w) in absent)
            lacking = ", ".join(repr(w) for w in list(said)[:3])
            return _removed(claim, f"not supported by {where} (its closest sentence lacks {lacking})")
        if facts:
            return _removed(claim, CONTRADICTS)
        if supporting:
            return _removed(claim, "only an instruction inside a passage says this")
        similarity = max((s[0] for s in spans if not gives_orders(s[2][0].text)), default=0.0)
        why = f"similarity {similarity:.2f} < {self.threshold:.2f}"
        return _removed(claim, f"not supported by {where} ({why})")

    def similarity(self, unit: Unit, vector: np.ndarray) -> float:
        """Best cosine between a claim's vector and the unit, or one of the unit's clauses."""
        return max(score for score, _ in self._span_scores(unit, vector))

    def _span_scores(self, unit: Unit, vector: np.ndarray) -> list[tuple[float, str]]:
        """(cosine, text) for the whole unit and for each of its clauses."""
        texts, vectors = self._clauses_of(unit)
        whole = [(float(self.index.unit_vectors[unit.unit_id] @ vector), unit.text)]
        return whole + list(zip((float(s) for s in vectors @ vector), texts)) if texts else whole

    def _clauses_of(self, unit: Unit) -> tuple[list[str], np.ndarray]:
        # Embedded on first use and kept: only units of retrieved passages are ever needed.
        if unit.unit_id not in self._clauses:
            parts = clauses(unit.text) if len(unit.text) >= CLAUSE_UNIT_CHARS else []
            self._clauses[unit.unit_id] = (parts, self.embedder.embed(parts) if parts else np.zeros((0, 1)))
        return self._clauses[unit.unit_id]

    def _holders(self, text: str, best: tuple[Unit, Chunk], units: list[tuple[Unit, Chunk]]) -> list:
        """Units that hold the numbers and names the best unit lacks, one per term."""
        have = _words(best[0].text)
        holders: list[tuple[Unit, Chunk]] = []
        for term in self.salient_terms(text):
            if _holds(have, term):
                continue
            holder = next((pair for pair in units if _holds(_words(pair[0].text), term)), None)
            if holder is not None and holder not in holders and holder != best:
                holders.append(holder)
                have |= _words(holder[0].text)
        return holders

    @cached_property
    def lower_words(self) -> frozenset[str]:
        """The words the corpus writes in lower case. Gathered on the first LLM answer, not when
        the index loads: it reads every unit, seconds at 100,000 chunks, and extractive answers
        never need it."""
        return frozenset(w for u in self.index.units for w in WORD_RE.findall(u.text) if w.islower())

    def salient_terms(self, text: str) -> list[str]:
        """:func:`salient_terms`, with the corpus's own lower-case words as ordinary words."""
        return salient_terms(text, self.lower_words)


class ReplyReader:
    """Turns a reply, given whole or in pieces as it streams, into sentences to check.

    It reads at most ``max_chars`` characters and hands out at most ``max_sentences`` sentences
    (a runaway reply is cut, not read for minutes); lines that echo the prompt and sentences
    said before come out as RemovedClaims. A sentence is handed out once the next one has begun,
    so its trailing [n] markers are already read.
    """

    def __init__(self, max_chars: int, max_sentences: int):
        self.max_chars = max_chars
        self.max_sentences = max_sentences
        self.text = ""
        self.given = 0  # sentences already handed out
        self.counted = 0  # sentences counted against max_sentences
        self.seen: set[str] = set()
        self.echoed: set[str] = set()

    @property
    def full(self) -> bool:
        """Whether the reader takes no more text: a caller may stop reading the reply."""
        return len(self.text) >= self.max_chars or self.counted >= self.max_sentences

    def feed(self, delta: str) -> list[Claim | RemovedClaim]:
        """Take the next piece of the reply; return the sentences it completed."""
        if not self.full:
            self.text += delta[: self.max_chars - len(self.text)]
        return self._hand_out(complete=self.full)

    def finish(self) -> list[Claim | RemovedClaim]:
        """The reply has ended: return the sentences still held back."""
        return self._hand_out(complete=True)

    def _hand_out(self, complete: bool) -> list[Claim | RemovedClaim]:
        lines = self.text.split("\n")
        partial = "" if complete else lines.pop()  # the line still being written
        out: list[Claim | RemovedClaim] = []
        answer_lines = []
        for line in lines:
            cleaned = unecho(line)
            if cleaned is not None:
                answer_lines.append(cleaned)
            elif line.strip() and line not in self.echoed:
                self.echoed.add(line)
                out.append(RemovedClaim(sentence=line.strip(), reason="echoes the prompt"))
        if partial and not may_echo(partial):
            answer_lines.append(unecho(partial))
        claims = split_claims("\n".join(answer_lines))
        ready = claims if complete else claims[:-1]
        for claim in ready[self.given :]:
            if self.counted >= self.max_sentences:
                break
            out.append(self._once(claim))
            self.given += 1
        return out

    def _once(self, claim: Claim) -> Claim | RemovedClaim:
        self.counted += 1
        key = _plain(claim.text)
        if key in self.seen:
            return RemovedClaim(sentence=claim.text, reason="repeats an earlier sentence")
        self.seen.add(key)
        return claim


def coverage(new_terms: set[str], held: set[str]) -> float:
    """Share of a sentence's content terms beyond the question's (``new_terms``) that a source
    unit's content terms (``held``) include.

    Similarity alone keeps fluent inventions close to a real sentence ("Harvard ranked 14th in
    the PayScale report" against a sentence about other rankings): what a sentence adds to the
    question must be in its source, not only near it in meaning.
    """
    return len(new_terms & held) / len(new_terms) if new_terms else 1.0


def contradicts(claim: str, source: str) -> bool:
    """Whether ``claim`` negates ``source``, turns its direction (more vs. less) around, or puts
    a number of its own where ``source`` states another ("in 2003" for "in 2004")."""
    if negated(claim) != negated(source):
        return True
    claimed, stated = _numbers(claim), _numbers(source)
    if claimed - stated and stated - claimed:
        return True
    claimed, stated = _directions(claim), _directions(source)
    return bool(claimed and stated and not claimed & stated)


def _numbers(text: str) -> set[str]:
    return set(numbers(text))


def _directions(text: str) -> set[str]:
    return {name for name, pattern in DIRECTION_WORDS.items() if pattern.search(text)}


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


def salient_terms(text: str, ordinary: Iterable[str] = frozenset()) -> list[str]:
    """Numbers (digits or count words) and names that a source must also contain.

    A capitalised word is a name, except a stopword, and except a word that opens a sentence
    and is ordinary: a connective ("Overall", "However") or one of ``ordinary`` (the words the
    corpus writes in lower case). "Lisa Wilson wrote ..." still opens with a name.
    """
    terms = numbers(text)
    terms += [w for w in words(text) if w in COUNT_WORDS]
    ordinary = CONNECTIVES | frozenset(ordinary)
    openers = {start for start, _ in split_sentences(text)}
    for match in CAPITALISED_RE.finditer(text):
        name = match.group().strip("’'-")
        word = name.lower()
        if len(word) <= 1 or word in STOPWORDS or (match.start() in openers and word in ordinary):
            continue
        terms.append(name)
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

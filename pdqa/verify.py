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
   against every passage given instead (``settings.verify.attribute_uncited``, on by default);
3. every number and name in it must appear in a cited passage (text, title or section); a
   capitalised word that opens the sentence is a name only if the corpus never writes it in
   lower case and it is not a common word ("Overall", "However");
4. a span of a cited passage must support it: the reader's support head (a cross-encoder
   trained on entailment pairs and on right and subtly wrong restatements of report sentences)
   reads (sentence, span) for the passage's sentences, list items and rows closest to it in
   meaning, alone and with the next one; the support model (:mod:`pdqa.support`) turns its logit
   and the pair's word measures (words neither the span nor the question uses, a dropped
   negation, a number of its own) into P(supported), which must reach
   ``settings.verify.support_threshold``. A unit that gives orders ("ignore previous
   instructions and say ...") is never a span: a passage that tells the model to say X does not
   state X;
5. a sentence supported only by a heading restates a title; it answers nothing;
6. it must answer the question: the reader's answer head gives the unit that supports it a
   probability of answering the question (the best part of a compound question), which must
   reach ``settings.verify.relevance_threshold``.

A kept sentence is cited to the span that supports it, plus, for each number or name that span
lacks, the unit of a cited passage that holds it, so every citation quotes the exact text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .chunking import split_sentences
from .embeddings import Embedder
from .generate import may_echo, unecho
from .index import Index
from .models import Chunk, Hit, RemovedClaim, Unit
from .question import Question
from .reader import SUPPORT, Reader, support_pair
from .settings import VerifySettings
from .support import SupportModel, load_support_model, reverse_pair
from .text import (
    BULLET_RE,
    CAPITALISED_RE,
    MARKER_RE,
    NUMBER_VALUES,
    NUMBER_WORDS,
    STOPWORDS,
    WORD_RE,
    content_terms,
    negated,
    numbers,
    word_set,
    words,
)

SPANS = 6  # units of the cited passages the support head reads per sentence (closest by cosine)
JOINED = 3  # of those, how many are also read joined with the next unit
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
    probability: float = 1.0
    """The support head's probability for the span that supports it."""
    span_units: int = 1
    """How many of ``support`` make up that span (the rest hold a number or name it lacks)."""


@dataclass
class Verification:
    """The outcome for a whole reply."""

    kept: list[KeptClaim]
    removed: list[RemovedClaim]
    not_found: bool


UnitScorer = Callable[[list[int]], dict[int, float]]


@dataclass
class Asked:
    """The question as verification reads it: the reader's probability that each unit answers it
    (the best part of a compound question), known for the answer stage's candidates and asked of
    ``score`` for any other unit; the question's content terms; whether it asks yes or no."""

    unit_probabilities: dict[int, float]
    question_terms: frozenset[str] = frozenset()
    yes_no: bool = False
    parts: int = 1
    score: UnitScorer | None = None

    @classmethod
    def of(cls, parts: list[Question], unit_probabilities: dict[int, float], score: UnitScorer | None = None) -> Asked:
        """What relevance needs of a question asked in ``parts`` (one, or each of a compound)."""
        return cls(
            dict(unit_probabilities),
            question_terms=frozenset(t for q in parts for t in content_terms(q.text)),
            yes_no=any(q.kind == "yesno" for q in parts),
            parts=len(parts),
            score=score,
        )

    def relevance(self, unit: Unit) -> float:
        """P(the unit answers the question), by the reader's answer head."""
        if unit.unit_id not in self.unit_probabilities and self.score is not None:
            self.unit_probabilities.update(self.score([unit.unit_id]))
        return self.unit_probabilities.get(unit.unit_id, 0.0)


class NotFoundClaim(RemovedClaim):
    """The model's fixed "not found" reply: neither kept nor a fault, decided on at the end."""


@dataclass(frozen=True)
class Span:
    """Text of a cited passage a sentence is checked against: one unit, or a unit and the next."""

    units: tuple[Unit, ...]
    chunk: Chunk

    @property
    def text(self) -> str:
        return " ".join(u.text for u in self.units)


class Verifier:
    """Checks replies against the units of the index the passages came from.

    Args:
        index: The loaded index (its units and their vectors are reused, never re-embedded).
        embedder: Encodes the reply's sentences into the same space as the unit vectors.
        settings: The verify settings (support and relevance thresholds).
        not_found: The fixed reply for "the passages do not say".
        reader: Gives the reader (its support head), loaded on the first sentence to check.
        gives_orders: Which units give orders (the answer stage's injection check), by their vectors.
        support_model: Gives the support model (read on the first sentence to check).
    """

    def __init__(self, index: Index, embedder: Embedder, settings: VerifySettings, not_found: str,
                 reader: Callable[[], Reader], gives_orders: Callable[[np.ndarray], np.ndarray],
                 support_model: Callable[[], SupportModel] = load_support_model):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.threshold = settings.support_threshold
        self.not_found_text = not_found
        self.not_found = _plain(not_found)
        self._reader = reader
        self._gives_orders = gives_orders
        self._support_model = support_model
        self._lock = threading.Lock()

    def verify(self, raw_answer: str, hits: list[Hit], asked: Asked, max_chars: int = 4000, max_sentences: int = 20) -> Verification:
        """Check every sentence of ``raw_answer``, whose [n] refer to ``hits`` numbered from 1."""
        reader = ReplyReader(max_chars, max_sentences, self.not_found_text)
        claims = reader.feed(raw_answer) + reader.finish()
        return self.conclude([self.check(c, hits, asked) for c in claims])

    def check(self, claim: Claim | RemovedClaim, hits: list[Hit], asked: Asked) -> KeptClaim | RemovedClaim:
        """The verdict on one sentence; a RemovedClaim from the reader (echo, repeat) stands as it is."""
        if isinstance(claim, RemovedClaim):
            return claim
        if _plain(claim.text).startswith(self.not_found.rstrip(".")):
            return NotFoundClaim(sentence=claim.text, reason="not-found reply beside supported claims")
        return self._check(claim, hits, asked)

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

    def _check(self, claim: Claim, hits: list[Hit], asked: Asked) -> KeptClaim | RemovedClaim:
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
        chunks = [self.index.chunk_by_id(hits[n - 1].chunk_id) for n in given]
        where = "the cited passage(s)" if claim.cited else "any passage given (uncited)"
        sources = [_chunk_words(chunk) for chunk in chunks]
        missing = [t for t in self.salient_terms(claim.text) if not any(_holds(held, t) for held in sources)]
        if missing:
            return _removed(claim, f"{_kind(missing[0])} {missing[0]!r} is not in {where}")
        outcome = self.supported(claim, chunks, where, asked.question_terms)
        if isinstance(outcome, RemovedClaim):
            return outcome
        unit, _ = outcome.support[0]
        if unit.kind == "heading":
            return _removed(claim, "only a heading, not an answer")
        score = max(asked.relevance(u) for u, _ in outcome.support[: outcome.span_units])
        if score < self.settings.relevance_threshold:
            return _removed(claim, f"{DOES_NOT_ANSWER} (score {score:.2f} < {self.settings.relevance_threshold:.2f})")
        return outcome

    def spans(self, text: str, chunks: list[Chunk]) -> list[Span]:
        """The spans of ``chunks`` the support head reads for a sentence: the ``SPANS`` units closest
        to it in meaning (no unit that gives orders), and the closest ``JOINED`` with their next unit."""
        units = [(u, c) for c in chunks for u in self.index.units_of(c.chunk_id)]
        if not units:
            return []
        vectors = np.asarray(self.index.unit_vectors[[u.unit_id for u, _ in units]])
        facts = ~np.asarray(self._gives_orders(vectors), dtype=bool)
        if not facts.any():
            return []
        vector = self.embedder.embed([text])[0]
        similarity = np.where(facts, vectors @ vector, -np.inf)
        order = [i for i in np.argsort(-similarity, kind="stable")[:SPANS] if facts[i]]
        spans = [Span((units[i][0],), units[i][1]) for i in order]
        for i in order[:JOINED]:
            if i + 1 < len(units) and units[i + 1][1] is units[i][1] and facts[i + 1]:
                spans.append(Span((units[i][0], units[i + 1][0]), units[i][1]))
        return spans

    def support_probabilities(self, text: str, spans: list[Span], question_terms: frozenset[str] = frozenset()) -> np.ndarray:
        """P(the span supports the sentence) for each span: the support model over the reader's
        support head and the pair's word measures (``question_terms``: the question's content terms)."""
        with self._lock:
            reader, model = self._reader(), self._support_model()
        logits = reader.logits([support_pair(text, span.text) for span in spans], SUPPORT)
        reverse = (reader.logits([reverse_pair(text, span.text) for span in spans], SUPPORT)
                   if model.reads_reverse else None)
        return model.probabilities(text, [span.text for span in spans], question_terms, logits, reverse)

    def supported(self, claim: Claim, chunks: list[Chunk], where: str = "the cited passage(s)",
                  question_terms: frozenset[str] = frozenset()) -> KeptClaim | RemovedClaim:
        """The span of ``chunks`` that best supports the sentence, if the support model believes one."""
        spans = self.spans(claim.text, chunks)
        if not spans:
            return _removed(claim, f"only an instruction inside {where} says this" if chunks else "no passage")
        probabilities = self.support_probabilities(claim.text, spans, question_terms)
        order = np.argsort(-probabilities, kind="stable")
        best = int(order[0])
        if probabilities[best] < self.threshold:
            return _removed(claim, f"not supported by {where} (support {probabilities[best]:.2f} < {self.threshold:.2f})")
        agreeing = [int(i) for i in order if probabilities[i] >= self.threshold and not contradicts(claim.text, spans[i].text)]
        if not agreeing:
            return _removed(claim, CONTRADICTS)
        span = spans[agreeing[0]]
        support = [(u, span.chunk) for u in span.units]
        fact_units = [(u, c) for c in chunks for u in self.index.units_of(c.chunk_id)]
        lead = self._lead_in(span)
        holders = self._holders(claim.text, support + lead, fact_units)
        return KeptClaim(text=claim.text, support=support + lead + holders,
                         probability=float(probabilities[agreeing[0]]), span_units=len(support))

    def _lead_in(self, span: Span) -> list[tuple[Unit, Chunk]]:
        """A list item is cited with the sentence that announces its list ("The importance of:"):
        an item quoted alone loses what it is an item of."""
        if span.units[0].kind != "item":
            return []
        siblings = self.index.units_of(span.chunk.chunk_id)
        position = next(i for i, u in enumerate(siblings) if u.unit_id == span.units[0].unit_id)
        for unit in reversed(siblings[:position]):
            if unit.kind != "item":
                return [(unit, span.chunk)] if unit.kind == "sentence" and unit.text.rstrip().endswith(":") else []
        return []

    def _holders(self, text: str, support: list[tuple[Unit, Chunk]], units: list[tuple[Unit, Chunk]]) -> list:
        """Units that hold the numbers and names the supporting span lacks, one per term."""
        have = word_set(" ".join(u.text for u, _ in support))
        holders: list[tuple[Unit, Chunk]] = []
        for term in self.salient_terms(text):
            if _holds(have, term):
                continue
            holder = next((pair for pair in units if _holds(word_set(pair[0].text), term)), None)
            if holder is not None and holder not in holders and holder not in support:
                holders.append(holder)
                have |= word_set(holder[0].text)
        return holders

    @cached_property
    def lower_words(self) -> frozenset[str]:
        """The words the corpus writes in lower case. Gathered on the first LLM answer, not when
        the index loads: it reads every unit, seconds at 100,000 chunks, and extractive answers
        never need it."""
        return frozenset(w for text in self.index.store.texts.values() for w in WORD_RE.findall(text) if w.islower())

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

    def __init__(self, max_chars: int, max_sentences: int, not_found: str = ""):
        self.max_chars = max_chars
        self.max_sentences = max_sentences
        self.not_found = not_found
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
            cleaned = unecho(line, self.not_found)
            if cleaned is not None:
                answer_lines.append(cleaned)
            elif line.strip() and line not in self.echoed:
                self.echoed.add(line)
                out.append(RemovedClaim(sentence=line.strip(), reason="echoes the prompt"))
        if partial and not may_echo(partial, self.not_found):
            answer_lines.append(unecho(partial, self.not_found))
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


def contradicts(claim: str, source: str) -> bool:
    """Whether ``claim`` negates ``source`` or puts a number of its own where ``source`` states
    another ("in 2003" for "in 2004"): a hard check beside the support model. On the validation
    replies it changes nothing at the chosen threshold (the model reads both signals, weakly); it
    stays for the plain flips the model can still believe ("This position is available." for
    "This position is no longer available.", a year taken from another passage)."""
    if negated(claim) != negated(source):
        return True
    claimed, stated = set(numbers(claim)), set(numbers(source))
    return bool(claimed - stated and stated - claimed)


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


def _chunk_words(chunk: Chunk) -> set[str]:
    text = " ".join((chunk.text, chunk.title, chunk.section))
    return word_set(text) | acronyms(text)


# Words an organisation's name may hold that its acronym skips ("Department of Health and Social Care").
ACRONYM_SKIPS = frozenset("of and for the in on &".split())
NAME_WORD_RE = re.compile(r"[A-Z][A-Za-z’'-]*|&|\b(?:of|and|for|the|in|on)\b")


def acronyms(text: str) -> set[str]:
    """The acronyms a text's names spell, lower-cased: the initials of every run of two to six
    capitalised words it writes ("Department of Health and Social Care" gives "dhsc", "hsc", "sc"
    ...), so a sentence may name it by its acronym ("DHSC") and still pass the name check."""
    found: set[str] = set()
    for line in text.splitlines():
        initials: list[str] = []  # of the capitalised words of the current run
        position = 0
        for match in NAME_WORD_RE.finditer(line):
            between = line[position : match.start()]
            position = match.end()
            if between.strip(" ,") or "," in between:
                _spell(initials, found)
                initials = []
            if match.group() not in ACRONYM_SKIPS:
                initials.append(match.group()[0].lower())
        _spell(initials, found)
    return found


def _spell(initials: list[str], found: set[str]) -> None:
    """Add the acronyms of a run's contiguous parts (two to six capitalised words) to ``found``."""
    for start in range(len(initials)):
        for end in range(start + 2, min(len(initials), start + 6) + 1):
            found.add("".join(initials[start:end]))


# A number a source writes in digits may be restated in words, and the reverse ("three" for "3").
SPELLED = {value: word for word, value in NUMBER_VALUES.items()}


def _holds(held: set[str], term: str) -> bool:
    """Whether a text's words ``held`` hold a number or name, a number in digits or in words."""
    lowered = term.lower()
    if lowered in held or all(part in held for part in words(term)):
        return True
    other = NUMBER_VALUES.get(lowered) or SPELLED.get(lowered)
    return other is not None and other in held


def _plain(text: str) -> str:
    return " ".join(MARKER_RE.sub("", text).lower().split())


def _removed(claim: Claim, reason: str) -> RemovedClaim:
    return RemovedClaim(sentence=claim.text, reason=reason)

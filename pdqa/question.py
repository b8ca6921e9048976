"""Question analysis: what kind of answer a question wants, and which content terms it carries."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

WORD_RE = re.compile(r"[A-Za-z0-9£$€]+(?:['’][a-z]+)?")

STOPWORDS = frozenset(
    """a an the of to in on at by for with from into about as and or but if then than so
    is are was were be been being am do does did done has have had having will would shall
    should can could may might must it its this that these those there their them they he she
    his her him we us our you your i me my mine what which who whom whose when where why how
    tell please give show explain describe say said according report's any some all each every
    other such not no nor only own same too very just also s t don't doesn't didn't isn't
    many much more most""".split()
)
# Words that say what kind of answer is wanted rather than what it is about.
TYPE_WORDS = frozenset("year years date name named kind type sort".split())
# Irregular forms, and authorship words that mean "who wrote it", mapped to one base word.
IRREGULAR = {
    "wrote": "write", "written": "write", "writes": "write", "writer": "write", "authored": "write",
    "author": "write", "authors": "write", "writers": "write", "began": "begin", "begun": "begin", "ran": "run", "led": "lead",
    "leads": "lead", "leader": "lead", "made": "make", "found": "find", "findings": "find",
    "finding": "find", "gave": "give", "given": "give", "paid": "pay", "spent": "spend",
    "chose": "choose", "chosen": "choose", "took": "take", "taken": "take", "held": "hold",
    "won": "win", "built": "build", "sought": "seek", "brought": "bring", "thought": "think",
}
NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    twenty thirty forty fifty hundred thousand million dozen""".split()
)
INSTRUCTION_RE = re.compile(
    r"^\s*(?:please\s+)?(?:ignore|disregard|forget|override|pretend|act as|you are now|system)\b"
    r"|\b(?:ignore|disregard|forget)\b.{0,40}\b(?:instructions?|report|above|previous|context|rules|sources?)\b",
    re.IGNORECASE,
)
WHY_RE = re.compile(r"^\s*why\b|\bfor what (?:reason|purpose)\b|\bwhat was the (?:reason|purpose)\b", re.IGNORECASE)
# Orders addressed to a reader-model: "say that X", "you must answer ...".
ORDER_RE = re.compile(
    r"\b(?:say|reply|respond|answer|output|write|print)\s+(?:that|with|only|exactly|:)"
    r"|\byou (?:must|should|will) (?:now )?(?:say|answer|reply|respond)\b",
    re.IGNORECASE,
)
YES_NO_RE = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might)\b",
    re.IGNORECASE,
)
MONEY_RE = re.compile(
    r"£|\$|€|\bpounds?\b|\bsalary\b|\bwages?\b|\bpay\b|\bremuneration\b"
    r"|\bhow much\b.*\b(?:cost|costs|spend|spent|paid|pay|money|funding|budget|worth|charge)"
    r"|^\s*what\b.*\b(?:budget|cost|price|expenditure|spend)\b(?!\s+savings?)",
    re.IGNORECASE,
)
COUNT_RE = re.compile(r"\bhow many\b|\b(?:what|which) (?:was|is|were) the number of\b|\bnumber of\b", re.IGNORECASE)
WHEN_RE = re.compile(
    r"^\s*when\b|\b(?:what|which|in what) (?:year|month)\b|\bdate\b|\bdeadline\b", re.IGNORECASE
)
DURATION_RE = re.compile(r"\bhow long\b|\bfor how many (?:days|weeks|months|years)\b", re.IGNORECASE)
WHO_RE = re.compile(
    r"^\s*(?:who|whom|whose)\b|\bby whom\b"
    r"|\b(?:which|what) (?:organi[sz]ation|body|department|person|people|authors?|agency|team)\b",
    re.IGNORECASE,
)
WHERE_RE = re.compile(
    r"^\s*where\b|\b(?:which|what) (?:\w+ )?(?:city|cities|towns?|locations?|places?|buildings?|offices?"
    r"|trusts?|sites?|hospitals?|areas?|counties|county|regions?)\b",
    re.IGNORECASE,
)
NAMES_RE = re.compile(
    r"\bnames? of\b|^\s*(?:please\s+)?name\b|\bwhat (?:are|were) (?:they|the \w+) called\b", re.IGNORECASE
)
# Rates and proportions are numbers: "a significant proportion" does not answer "what proportion".
QUANTITY_RE = re.compile(
    r"\b(?:what|which) (?:\w+ )?(?:percentage|proportion|rate|ratio|share)\b|\bhow (?:big|large|old)\b"
    r"|\bper ?cent\b",
    re.IGNORECASE,
)
TITLE_RE = re.compile(r"\btitles?\b|\bheadings?\b", re.IGNORECASE)
# Past forms that name an event ("published", "founded", "written"); a "when" question asks
# about that event, so the passage must mention it, not merely hold a date.
EVENT_RE = re.compile(r"^[a-z]{3,}(?:ed|en)$")
NOT_EVENTS = frozenset("based need needed seen often given open even between".split())
PARTICLES = frozenset("out up off place about on in".split())
LIST_RE = re.compile(
    r"^\s*(?:list|name|what are|what were|which are|which were)\b|\blist\b|\ball the\b|\beach of\b",
    re.IGNORECASE,
)
COMPOUND_RE = re.compile(
    r"[,;]?\s+and\s+(?=(?:what|which|who|whom|where|when|why|how|is|are|was|were|does|do|did|can)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Question:
    """What pdqa reads in a question.

    Attributes:
        text: The question as asked.
        kind: Expected answer type: names, money, quantity, count, duration, when, who, where,
            why, yesno or what.
        wants_list: The question asks for several items.
        terms: Normalised content terms, in question order, without duplicates.
        focus: For a count question, the normalised nouns being counted.
        events: For a "when" question, the normalised event words ("publish").
        asks_title: The question asks for a title or heading.
        instruction: The "question" is an instruction to the system, not a question.
    """

    text: str
    kind: str
    wants_list: bool
    terms: tuple[str, ...]
    focus: tuple[str, ...]
    events: tuple[str, ...]
    asks_title: bool
    instruction: bool


def analyse(text: str) -> Question:
    """Read a question's answer type and content terms."""
    kind = _kind(text)
    return Question(
        text=text,
        kind=kind,
        wants_list=bool(LIST_RE.search(text)),
        terms=tuple(dict.fromkeys(t for t in content_terms(text) if t not in TYPE_WORDS)),
        focus=_count_focus(text) if kind == "count" else (),
        events=_events(text) if kind == "when" else (),
        asks_title=bool(TITLE_RE.search(text)),
        instruction=bool(INSTRUCTION_RE.search(text)),
    )


def gives_orders(text: str) -> bool:
    """Whether a text gives orders (a prompt injection) rather than stating facts."""
    return bool(INSTRUCTION_RE.search(text) or ORDER_RE.search(text))


def split_compound(text: str) -> list[str]:
    """Split "What was the aim, and which document flagged it?" into its two questions."""
    parts = [p.strip(" ,;") for p in COMPOUND_RE.split(text)]
    return [p for p in parts if p] if len(parts) > 1 else [text]


def _kind(text: str) -> str:
    for kind, pattern in (
        ("names", NAMES_RE),
        ("money", MONEY_RE),
        ("quantity", QUANTITY_RE),
        ("count", COUNT_RE),
        ("duration", DURATION_RE),
        ("when", WHEN_RE),
        ("who", WHO_RE),
        ("where", WHERE_RE),
        ("why", WHY_RE),
        ("yesno", YES_NO_RE),
    ):
        if pattern.search(text):
            return kind
    return "what"


def words(text: str) -> list[str]:
    """Lower-cased word tokens without possessive 's; hyphenated words also give their parts."""
    tokens = (w.lower().replace("’", "'") for w in WORD_RE.findall(text.replace("-", " ")))
    return [t[:-2] if t.endswith("'s") else t for t in tokens]


def content_terms(text: str) -> list[str]:
    """Normalised (stemmed) content words of a text, stopwords removed."""
    return [normalise_word(w) for w in words(text) if w not in STOPWORDS]


@lru_cache(maxsize=4096)
def normalise_word(word: str) -> str:
    """Map a word to a comparable stem: irregular forms first, then the Snowball stemmer."""
    word = IRREGULAR.get(word, word)
    return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def _events(text: str) -> tuple[str, ...]:
    """Event words of a "when" question: past forms, and the verb it ends on ("come out")."""
    tokens = words(text)
    found = [w for w in tokens if (EVENT_RE.match(w) or w in IRREGULAR) and w not in NOT_EVENTS]
    content = [w for w in tokens if w not in STOPWORDS and w not in PARTICLES and w not in TYPE_WORDS]
    if content and content[-1] not in found and content[-1] not in NOT_EVENTS:
        found.append(content[-1])
    return tuple(dict.fromkeys(normalise_word(w) for w in found))


def _count_focus(text: str) -> tuple[str, ...]:
    match = re.search(r"(?:how many|number of)\s+(.*)", text, re.IGNORECASE)
    if not match:
        return ()
    # The counted noun phrase: the words right after "how many", up to the first stopword.
    phrase = []
    for word in words(match.group(1)):
        if word in STOPWORDS:
            break
        phrase.append(normalise_word(word))
    return tuple(phrase)


SECTION_SHARE = 0.5


@dataclass(frozen=True)
class UnitTerms:
    """Normalised terms of a unit's own text and of its section heading."""

    text: frozenset[str]
    section: frozenset[str]

    def __or__(self, other: UnitTerms) -> UnitTerms:
        return UnitTerms(self.text | other.text, self.section | other.section)


class TermWeights:
    """Inverse document frequency of terms over the answer units of an index.

    A term that appears nowhere gets the highest weight: a question about something the corpus
    never mentions should not be answered from a passage that merely shares its common words.
    """

    def __init__(self, unit_terms: list[UnitTerms]):
        self.size = len(unit_terms)
        self.document_frequency = Counter(t for terms in unit_terms for t in terms.text)

    def weight(self, term: str) -> float:
        frequency = self.document_frequency.get(term, 0)
        return math.log((self.size + 1) / (frequency + 0.5))


def coverage(question: Question, terms: UnitTerms, weights: TermWeights) -> float:
    """Weighted share of the question's terms that a unit holds (0.0 when the question has none).

    A term found only in the unit's section heading counts half: the heading says what the
    passage is about, not what it states.
    """
    if not question.terms:
        return 0.0
    total = sum(weights.weight(t) for t in question.terms)
    held = sum(weights.weight(t) * _held_share(t, terms) for t in question.terms)
    return held / total if total > 0 else 0.0


def _held_share(term: str, terms: UnitTerms) -> float:
    if _held(term, terms.text):
        return 1.0
    return SECTION_SHARE if _held(term, terms.section) else 0.0


def _held(term: str, unit_terms: set[str]) -> bool:
    if term in unit_terms:
        return True
    # Stems of one family can still differ ("commission" vs "commiss"): accept a long shared prefix.
    return len(term) >= 6 and any(len(u) >= 6 and u[:6] == term[:6] for u in unit_terms)

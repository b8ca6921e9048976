"""Question analysis: what kind of answer a question wants, and which content terms it carries."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import IRREGULAR, STOPWORDS, WORD_RE, content_terms, negated, normalise_word, numbers, words

# Words that say what kind of answer is wanted rather than what it is about.
TYPE_WORDS = frozenset("year years date name named kind type sort".split())
# An instruction to the system: an imperative "ignore/forget/override ..." opening a clause, a
# role switch ("act as", "you are now", "system:"), or talk of the system's own instructions.
# "Why did the trial ignore previous evidence?" uses "ignore" inside a question, not as an order.
_CLAUSE_START = r"(?:^|[.!?;:]\s+|\band\s+|\bthen\s+)\s*(?:please\s+|now\s+)?"
INSTRUCTION_RE = re.compile(
    _CLAUSE_START + r"(?:ignore|disregard|forget|override|pretend)\b"
    r"|^\s*(?:please\s+)?(?:act as|you are now)\b|^\s*system\s*:"
    r"|\b(?:previous|prior|above|earlier|your|all)\s+(?:instructions|rules|prompts?)\b",
    re.IGNORECASE,
)
WHY_RE = re.compile(r"^\s*why\b|\bfor what (?:reason|purpose)\b", re.IGNORECASE)
# Orders addressed to a reader-model: an imperative "say/reply/answer ..." opening a clause, or
# "you must say ...". "Patients should reply with a diary entry" states a fact, not an order.
ORDER_RE = re.compile(
    r"(?:^|[.!?;:]\s+)\s*(?:please\s+|now\s+)?(?:say|reply|respond|answer|output|write|print)\b"
    r"|\byou (?:must|should|will) (?:now )?(?:say|answer|reply|respond|output|write)\b",
    re.IGNORECASE,
)
YES_NO_RE = re.compile(
    r"^\s*(?:is|are|was|were|do|does|did|has|have|had|can|could|will|would|should|may|might)\b",
    re.IGNORECASE,
)
MONEY_RE = re.compile(
    r"£|\$|€|\bpounds?\b|\bsalary\b|\bwages?\b|\bremuneration\b"
    r"|\bhow much\b.*\b(?:cost|costs|spend|spent|paid|pay|money|funding|budget|worth|charge)"
    r"|^\s*what\b.*\b(?:budget|cost|price|expenditure|spend)\b",
    re.IGNORECASE,
)
COUNT_RE = re.compile(r"\bhow many\b|\b(?:what|which) (?:was|is|were) the number of\b|\bnumber of\b", re.IGNORECASE)
WHEN_RE = re.compile(
    r"^\s*when\b|\b(?:what|which|in what) (?:year|month)\b|\bdate\b|\bdeadline\b", re.IGNORECASE
)
DURATION_RE = re.compile(r"\bhow long\b|\bfor how many (?:days|weeks|months|years)\b", re.IGNORECASE)
WHO_RE = re.compile(
    r"^\s*(?:who|whom|whose)\b|\bby whom\b"
    r"|\b(?:which|what) (?:organi[sz]ation|body|department|person|people|authors?|agency)\b",
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
    r"\b(?:what|which) (?:\w+ )?(?:percentage|proportion|rate|ratio|share)\b"
    r"|\bper ?cent\b",
    re.IGNORECASE,
)
TITLE_RE = re.compile(r"\btitles?\b|\bheadings?\b", re.IGNORECASE)
# Past forms that name an event ("published", "founded", "written"); a "when" question asks
# about that event, so the passage must mention it, not merely hold a date.
EVENT_RE = re.compile(r"^[a-z]{3,}(?:ed|en)$")
NOT_EVENTS = frozenset("based need needed seen often given open even between".split())
PARTICLES = frozenset("out up off place about on in".split())
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
        terms: Normalised content terms, in question order, without duplicates.
        focus: For a count question, the normalised nouns being counted.
        events: For a "when" question, the normalised event words ("publish").
        asks_title: The question asks for a title or heading.
        instruction: The "question" is an instruction to the system, not a question.
        names: Lower-cased capitalised words after the first word ("innovation", "nhs").
        numbers: Numbers written in digits.
        negated: The question holds a negation ("not", "never", "n't").
    """

    text: str
    kind: str
    terms: tuple[str, ...]
    focus: tuple[str, ...]
    events: tuple[str, ...]
    asks_title: bool
    instruction: bool
    names: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()
    negated: bool = False


def analyse(text: str) -> Question:
    """Read a question's answer type and content terms."""
    kind = _kind(text)
    return Question(
        text=text,
        kind=kind,
        terms=tuple(dict.fromkeys(t for t in content_terms(text) if t not in TYPE_WORDS)),
        focus=_count_focus(text) if kind == "count" else (),
        events=_events(text) if kind == "when" else (),
        asks_title=bool(TITLE_RE.search(text)),
        instruction=bool(INSTRUCTION_RE.search(text)),
        names=_names(text),
        numbers=tuple(numbers(text)),
        negated=negated(text),
    )


def _names(text: str) -> tuple[str, ...]:
    """Capitalised words after the first: a question's names, lower-cased, stopwords left out."""
    found = [m.group() for m in WORD_RE.finditer(text) if m.start() > 0 and m.group()[0].isupper()]
    lowered = (w.lower().replace("’", "'") for w in found)
    return tuple(dict.fromkeys(w for w in lowered if w not in STOPWORDS))


def gives_orders(text: str) -> bool:
    """Whether a text gives orders (a prompt injection) rather than stating facts."""
    return bool(INSTRUCTION_RE.search(text) or ORDER_RE.search(text))


def split_compound(text: str) -> list[str]:
    """Split "What was the aim, and which document flagged it?" into its two questions."""
    parts = [p.strip(" ,;") for p in COMPOUND_RE.split(text)]
    return [p for p in parts if p] if len(parts) > 1 else [text]


_KIND_PATTERNS = (
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
)
KINDS = tuple(kind for kind, _ in _KIND_PATTERNS) + ("what",)


def _kind(text: str) -> str:
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(text):
            return kind
    return "what"


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

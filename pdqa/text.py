"""Text utilities shared by every stage: one tokeniser, one stemmer, one [n] marker and number pattern.

The answerer, the verifier and the evaluation read text through these functions, so a word, a
number or a citation marker means the same thing everywhere.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Letters and digits of any script ("Beyoncé", "Kraków"), with an apostrophe suffix ("report’s").
WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
# A citation marker as written in answers: "[1]", "[1, 3]", "[2;4]"; group 1 holds the numbers.
MARKER_RE = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
# A number as written in prose: "12", "3.5", "30,000".
NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
# A capitalised word, with inner apostrophes and hyphens ("O’Neill", "Co-operative").
CAPITALISED_RE = re.compile(r"\b[A-Z][A-Za-z’'-]*")
# Glyphs that open a list item at the start of a line ("•", "-", "▪" ...), and the ones that are
# only layout (a bullet drawn as text), never part of a sentence a citation quotes.
BULLET_GLYPHS = "•*-–·▪●◦○■□►➢"
BULLET_MARKS = "•·▪●◦○■□►➢"
# A list item's opening at a line start: indent, then a glyph or "3." / "3)", then a space.
# Group 1 is the indent, group 2 the marker.
BULLET_RE = re.compile(r"^([ \t\u00a0]*)([" + re.escape(BULLET_GLYPHS) + r"]|\d{1,2}[.)])[ \t\u00a0]+")

STOPWORDS = frozenset(
    """a an the of to in on at by for with from into about as and or but if then than so
    is are was were be been being am do does did done has have had having will would shall
    should can could may might must it its this that these those there their them they he she
    his her him we us our you your i me my mine what which who whom whose when where why how
    tell please give show explain describe say said according report's any some all each every
    other such not no nor only own same too very just also s t don't doesn't didn't isn't
    many much more most""".split()
)
# Irregular forms, and authorship words that mean "who wrote it", mapped to one base word.
IRREGULAR = {
    "wrote": "write", "written": "write", "writes": "write", "writer": "write", "authored": "write",
    "author": "write", "authors": "write", "writers": "write", "began": "begin", "begun": "begin",
    "ran": "run", "led": "lead", "leads": "lead", "leader": "lead", "made": "make", "found": "find",
    "findings": "find", "finding": "find", "gave": "give", "given": "give", "paid": "pay",
    "spent": "spend", "chose": "choose", "chosen": "choose", "took": "take", "taken": "take",
    "held": "hold", "won": "win", "built": "build", "sought": "seek", "brought": "bring",
    "thought": "think",
}
# Numbers written as words, with their value in digits (a source may write either).
NUMBER_VALUES = {word: str(value) for value, word in enumerate(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen".split(), start=1)}
NUMBER_VALUES |= {"twenty": "20", "thirty": "30", "forty": "40", "fifty": "50", "hundred": "100", "thousand": "1000",
                  "million": "1000000", "dozen": "12"}
NUMBER_WORDS = frozenset(NUMBER_VALUES)
NEGATIONS = frozenset("not no never none neither nor without cannot n't".split())


def words(text: str) -> list[str]:
    """Lower-cased word tokens without possessive 's; hyphenated words also give their parts."""
    tokens = (w.lower().replace("’", "'") for w in WORD_RE.findall(text.replace("-", " ")))
    return [t[:-2] if t.endswith("'s") else t for t in tokens]


def numbers(text: str) -> list[str]:
    """Numbers written in digits, thousands separators removed: "30,000" → "30000"."""
    return [n.replace(",", "") for n in NUMBER_RE.findall(text)]


def word_set(text: str) -> set[str]:
    """Every word of a text, lower-cased, and its numbers as digits: what a name or number is looked up in."""
    return set(words(text)) | set(numbers(text))


def capitalised_names(text: str) -> list[str]:
    """Capitalised words of a text, lower-cased, stopwords left out ("Lisa", "nhs", "o’neill")."""
    found = (match.strip("’'-").lower() for match in CAPITALISED_RE.findall(text))
    return [name for name in found if len(name) > 1 and name not in STOPWORDS]


def content_terms(text: str) -> list[str]:
    """Normalised (stemmed) content words of a text, stopwords removed."""
    return [normalise_word(w) for w in words(text) if w not in STOPWORDS]


def negated(text: str) -> bool:
    """Whether a text contains a negation word ("not", "never", "without", "n't" ...)."""
    lowered = text.lower().replace("’", "'")
    return "n't" in lowered or any(w in NEGATIONS for w in words(lowered))


def strip_markers(text: str) -> str:
    """The text with its [n] citation markers removed and spaces folded."""
    return " ".join(MARKER_RE.sub(" ", text).split())


@lru_cache(maxsize=8192)
def normalise_word(word: str) -> str:
    """Map a word to a comparable stem: irregular forms first, then the Snowball stemmer."""
    word = IRREGULAR.get(word, word)
    return _stemmer().stemWord(word)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")

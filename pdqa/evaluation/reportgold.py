"""The labelled question set over real reports: its rows, its split, and the evidence checker.

Each row of ``eval/reports/gold.jsonl`` names its document by file name and sha256 (the files
themselves are never part of pdqa; they are read from wherever the user keeps them) and anchors
its evidence on words, not offsets: an evidence string is found in the stored text after folding
case, whitespace, quotes, dashes and hyphenation, so it survives changes to how documents are read.
"""

from __future__ import annotations

import json
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .gold import Evidence, GoldError, GoldQuestion
from .metrics import normalize_answer

ANSWERABLE_KINDS = (
    "single-fact", "number-date", "paraphrase", "list", "yes-no", "compound", "why-how",
    "table", "bullet-list", "multi-sentence", "keyword",
)
UNANSWERABLE_KINDS = ("absent-detail", "swapped", "false-premise", "near-topic", "instruction")
Kind = Literal[ANSWERABLE_KINDS + UNANSWERABLE_KINDS]  # type: ignore[valid-type]
SPLITS = ("train", "validation", "test")


class ReportQuestion(BaseModel):
    """One question about one real report, written from the document alone."""

    model_config = ConfigDict(extra="forbid")
    id: str
    doc: str = Field(description="File name of the document.")
    doc_sha256: str = Field(description="sha256 of the document file the question was written from.")
    question: str = Field(min_length=1)
    answerable: bool
    kind: Kind
    facts: list[list[str]] = Field(description="Each fact: acceptable phrasings; all facts required.")
    evidence: list[str] = Field(description="Short verbatim substrings of the answer sentence(s).")
    page: int | None = Field(description="1-based PDF page of the first evidence string, or null.")
    writer: str
    note: str = Field(default="", description="Why an unanswerable question is unanswerable, or other remarks.")

    @model_validator(mode="after")
    def _consistent(self) -> ReportQuestion:
        if self.answerable != (self.kind in ANSWERABLE_KINDS):
            raise ValueError(f"{self.id}: kind {self.kind} does not fit answerable={self.answerable}")
        if self.answerable and not (self.facts and self.evidence and all(self.facts)):
            raise ValueError(f"{self.id}: an answerable question needs facts and evidence")
        if not self.answerable and (self.facts or self.evidence or self.page is not None):
            raise ValueError(f"{self.id}: an unanswerable question has no facts, evidence or page")
        return self

    @property
    def doc_id(self) -> str:
        """The document's id in a corpus without metadata: its file stem."""
        return Path(self.doc).stem

    def as_gold(self, split: str) -> GoldQuestion:
        """The question in the form the evaluation runner scores."""
        return GoldQuestion(
            id=self.id,
            question=self.question,
            answerable=self.answerable,
            answers=[" ".join(group[0] for group in self.facts)] if self.answerable else [],
            facts=self.facts,
            evidence=[Evidence(doc_id=self.doc_id, text=text) for text in self.evidence],
            category=self.kind,
            split=split,
            document=self.doc_id,
        )


def load_report_gold(path: Path) -> list[ReportQuestion]:
    """Read the report question set (JSON Lines).

    Raises:
        GoldError: The file cannot be read, a row is malformed, or an id repeats.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldError(f"cannot read gold file {path}: {exc.strerror}") from exc
    rows, seen = [], set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = ReportQuestion.model_validate_json(line)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise GoldError(f"{path.name} line {number}: {where + ': ' if where else ''}{error['msg']}") from exc
        if row.id in seen:
            raise GoldError(f"{path.name}: duplicate question id {row.id!r}")
        seen.add(row.id)
        rows.append(row)
    return rows


def is_report_gold(path: Path) -> bool:
    """Whether a gold file holds report-set rows (a ``doc`` per row) rather than bundled-report rows."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
        return "doc" in json.loads(first) if first else False
    except (OSError, ValueError):
        return False


def load_split(path: Path) -> dict[str, list[str]]:
    """The documents of each split (train, validation, test) from ``split.json``.

    Raises:
        GoldError: The file is missing, malformed, or puts a document in two splits.
    """
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        splits = {name: list(record[name]) for name in SPLITS}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GoldError(f"cannot read the split file {path}: {exc}") from exc
    seen: dict[str, str] = {}
    for name, docs in splits.items():
        for doc in docs:
            if doc in seen:
                raise GoldError(f"{path.name}: {doc} is in both {seen[doc]} and {name}")
            seen[doc] = name
    return splits


# ---------------------------------------------------------------- words-anchored evidence

# Quotes, dashes and hyphens fold away with all other punctuation; these are removed first so
# that a soft hyphen or a zero-width space never separates two letters of one word.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\x02\ufffe"))


@dataclass(frozen=True)
class Skeleton:
    """A text reduced to its lower-cased letters and digits, with each one's offset in the text.

    Whitespace, punctuation, quotes, dashes and hyphens all fall away, so "e-survey" and
    "esurvey", "co- ordinated" and "coordinated", “quoted” and "quoted" have one skeleton.
    """

    chars: str
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> Skeleton:
        chars, offsets = [], []
        for offset, char in enumerate(text):
            if ord(char) in _INVISIBLE:
                continue
            for folded in unicodedata.normalize("NFKC", char).lower():
                if folded.isalnum():
                    chars.append(folded)
                    offsets.append(offset)
        return cls("".join(chars), tuple(offsets))

    def spans(self, needle: str) -> list[tuple[int, int]]:
        """Every (start, end) span of the text whose skeleton is ``needle``'s."""
        target = Skeleton.of(needle).chars
        if not target:
            return []
        found, at = [], self.chars.find(target)
        while at != -1:
            found.append((self.offsets[at], self.offsets[at + len(target) - 1] + 1))
            at = self.chars.find(target, at + 1)
        return found


@dataclass
class StoredText:
    """The text pdqa stores for one document, with (offset, page) where each PDF page's text begins."""

    text: str
    page_map: Sequence[tuple[int, int]] = ()

    @cached_property
    def skeleton(self) -> Skeleton:
        return Skeleton.of(self.text)

    @cached_property
    def normalised(self) -> str:
        """The text as facts are matched in answers, padded with spaces for whole-word search."""
        return f" {normalize_answer(self.text, punctuation_to_space=True)} "

    def page_at(self, offset: int) -> int | None:
        if not self.page_map:
            return None
        at = bisect_right([start for start, _ in self.page_map], offset) - 1
        return self.page_map[max(at, 0)][1]


def evidence_problems(row: ReportQuestion, stored: StoredText) -> list[str]:
    """Why a row's evidence or facts do not hold in its document's stored text ([] when they do).

    Every evidence string must occur in the text (words-anchored), the first on ``page`` for a
    PDF, and every fact must have a phrasing that occurs in the document.
    """
    problems = []
    for number, evidence in enumerate(row.evidence):
        spans = stored.skeleton.spans(evidence)
        if not spans:
            problems.append(f"{row.id}: evidence {number + 1} is not in {row.doc}: {evidence[:60]!r}")
        elif number == 0 and stored.page_map and row.page not in {stored.page_at(s) for s, _ in spans}:
            pages = sorted({stored.page_at(s) for s, _ in spans})
            problems.append(f"{row.id}: evidence 1 is on page(s) {pages} of {row.doc}, not page {row.page}")
    if row.answerable and not stored.page_map and row.page is not None:
        problems.append(f"{row.id}: {row.doc} has no pages, so page must be null")
    if row.answerable and stored.page_map and row.page is None:
        problems.append(f"{row.id}: {row.doc} is a PDF, so page must be given")
    for group in row.facts:
        if not any(f" {normalize_answer(p, punctuation_to_space=True)} " in stored.normalised for p in group):
            problems.append(f"{row.id}: no phrasing of fact {group!r} occurs in {row.doc}")
    return problems

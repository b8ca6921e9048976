"""Gold question sets: pdqa's own JSONL format, and SQuAD 2.0 files turned into a temporary corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import PdqaError


class GoldError(PdqaError):
    """The gold file is missing or malformed."""

    hint = "Check the gold file against the schema in eval/README or pdqa.evaluation.gold."


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc_id: str
    text: str = Field(min_length=1, description="Exact substring of the document's corpus file.")


class GoldQuestion(BaseModel):
    """One hand-written question with what a correct answer must contain."""

    model_config = ConfigDict(extra="forbid")
    id: str
    question: str = Field(min_length=1)
    answerable: bool
    answers: list[str]
    facts: list[list[str]] = Field(description="Each fact: acceptable phrasings; all facts required.")
    evidence: list[Evidence]
    category: str
    split: Literal["dev", "test"]

    @model_validator(mode="after")
    def _consistent(self) -> GoldQuestion:
        if self.answerable and not (self.facts and self.answers and self.evidence):
            raise ValueError(f"{self.id}: an answerable question needs answers, facts and evidence")
        if not self.answerable and (self.facts or self.answers or self.evidence):
            raise ValueError(f"{self.id}: an unanswerable question has no answers, facts or evidence")
        return self


def load_gold(path: Path, split: str = "all") -> list[GoldQuestion]:
    """Read a gold JSONL file, keeping one split ("dev", "test") or all of it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise GoldError(f"cannot read gold file {path}: {exc.strerror}") from exc
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            questions.append(GoldQuestion.model_validate_json(line))
        except ValidationError as exc:
            raise GoldError(f"{path.name} line {number}: {_first_error(exc)}") from exc
    _check_unique(questions, path)
    return [q for q in questions if split == "all" or q.split == split]


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else error["msg"]


def _check_unique(questions: list[GoldQuestion], path: Path) -> None:
    seen: set[str] = set()
    for question in questions:
        if question.id in seen:
            raise GoldError(f"{path.name}: duplicate question id {question.id!r}")
        seen.add(question.id)


def squad_to_corpus(squad_path: Path, corpus_dir: Path) -> list[GoldQuestion]:
    """Write each SQuAD 2.0 paragraph as a corpus document and return its questions as gold.

    Every question is asked against the whole temporary corpus; ``is_impossible`` questions count
    as unanswerable. A SQuAD answer becomes both the fact and the evidence span.
    """
    try:
        data = json.loads(squad_path.read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GoldError(f"{squad_path} is not a SQuAD 2.0 JSON file") from exc
    corpus_dir.mkdir(parents=True, exist_ok=True)
    questions: list[GoldQuestion] = []
    for article_number, article in enumerate(data):
        title = str(article.get("title") or f"article {article_number}")
        for paragraph_number, paragraph in enumerate(article["paragraphs"]):
            doc_id = f"{_slug(title)}-{article_number}-{paragraph_number}"
            _write_document(corpus_dir, doc_id, f"{title} ({paragraph_number + 1})", paragraph["context"])
            questions.extend(_squad_questions(doc_id, paragraph["qas"]))
    return questions


def _write_document(corpus_dir: Path, doc_id: str, title: str, context: str) -> None:
    (corpus_dir / f"{doc_id}.txt").write_text(context, encoding="utf-8")
    meta = {"documents": [{"doc_id": doc_id, "title": title}]}
    (corpus_dir / f"{doc_id}.meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _squad_questions(doc_id: str, qas: list[dict]) -> list[GoldQuestion]:
    questions = []
    for qa in qas:
        impossible = bool(qa.get("is_impossible"))
        answers = [] if impossible else list(dict.fromkeys(a["text"] for a in qa["answers"]))
        questions.append(
            GoldQuestion(
                id=str(qa["id"]),
                question=qa["question"],
                answerable=not impossible,
                answers=answers,
                facts=[answers] if answers else [],
                evidence=[Evidence(doc_id=doc_id, text=a) for a in answers],
                category="squad-impossible" if impossible else "squad",
                split="test",
            )
        )
    return questions


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "doc"

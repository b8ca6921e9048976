"""Gold question sets: pdqa's own JSONL format, and SQuAD 2.0 files turned into a temporary corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import PdqaError


class GoldError(PdqaError):
    """The gold file is missing or malformed."""

    hint = "Check the gold file against GoldQuestion in pdqa/evaluation/gold.py (one JSON object per line)."


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
    split: str = Field(description="dev or test (the bundled report); train, validation or test (a report set).")
    document: str = Field(default="", description="The document the question is about, when it is about one.")

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


SQUAD_HINT = (
    'A SQuAD 2.0 file holds {"data": [{"title": ..., "paragraphs": [{"context": ..., "qas": '
    '[{"id": ..., "question": ..., "answers": [{"text": ...}], "is_impossible": false}]}]}]}.'
)


class _SquadAnswer(BaseModel):
    text: str


class _SquadQuestion(BaseModel):
    id: str | int
    question: str
    is_impossible: bool = False
    answers: list[_SquadAnswer] = []


class _SquadParagraph(BaseModel):
    context: str
    qas: list[_SquadQuestion]


class _SquadArticle(BaseModel):
    title: str = ""
    paragraphs: list[_SquadParagraph]


class _SquadFile(BaseModel):
    """The part of the SQuAD 2.0 shape pdqa reads; other keys (answer_start, version) are ignored."""

    data: list[_SquadArticle]


def squad_to_corpus(squad_path: Path, corpus_dir: Path, articles: set[str] | None = None,
                    split: str = "test") -> list[GoldQuestion]:
    """Write each SQuAD 2.0 paragraph as a corpus document and return its questions as gold.

    Every question is asked against the whole temporary corpus; ``is_impossible`` questions count
    as unanswerable. A SQuAD answer becomes both the fact and the evidence span.

    Args:
        squad_path: A SQuAD 2.0 JSON file.
        corpus_dir: Folder to write the documents into.
        articles: Titles of the articles to keep; default: all.
        split: The split the questions are labelled with (the part of the split file they come from;
            "test" for a file read whole), so a report names it.

    Raises:
        GoldError: The file cannot be read or does not have the SQuAD 2.0 shape (named in one line).
    """
    squad = _read_squad(squad_path)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    questions: list[GoldQuestion] = []
    for article_number, article in enumerate(squad.data):
        title = article.title or f"article {article_number}"
        if articles is not None and title not in articles:
            continue
        for paragraph_number, paragraph in enumerate(article.paragraphs):
            doc_id = paragraph_doc_id(article.title, article_number, paragraph_number)
            _write_document(corpus_dir, doc_id, f"{title} ({paragraph_number + 1})", paragraph.context)
            try:
                questions.extend(_squad_questions(doc_id, paragraph.qas, split))
            except ValidationError as exc:  # e.g. an answerable question without answers
                raise GoldError(f"{squad_path} {_first_error(exc)}", SQUAD_HINT) from exc
    return questions


def paragraph_doc_id(title: str | None, article_number: int, paragraph_number: int) -> str:
    """The document id :func:`squad_to_corpus` gives a SQuAD paragraph."""
    return f"{_slug(title or f'article {article_number}')}-{article_number}-{paragraph_number}"


def _read_squad(squad_path: Path) -> _SquadFile:
    try:
        return _SquadFile.model_validate_json(squad_path.read_bytes())
    except OSError as exc:
        raise GoldError(f"cannot read SQuAD file {squad_path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise GoldError(f"{squad_path} is not a SQuAD 2.0 JSON file: {_first_error(exc)}", SQUAD_HINT) from exc


def squad_articles(squad_path: Path, split: str, split_file: Path) -> set[str] | None:
    """Titles of the articles of a SQuAD file in one part of a split file (None: all).

    Raises:
        GoldError: The split file cannot be read or names no such part for this file.
    """
    if split == "all":
        return None
    try:
        parts = json.loads(split_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GoldError(f"cannot read the split file {split_file}: {exc}") from exc
    articles = parts.get(split, {}).get(squad_path.name)
    if not articles:
        raise GoldError(
            f"{split_file.name} names no {split} articles of {squad_path.name}",
            hint="Use --split all, or a file the split names (dev-8-articles.json, train-10-articles.json).",
        )
    return set(articles)


def is_bundled_gold(path: Path) -> bool:
    """Whether a gold file holds rows of the bundled report's form (evidence with a doc_id)."""
    try:
        with path.open(encoding="utf-8") as handle:
            first = next((line for line in handle if line.strip()), "")
        return "category" in json.loads(first) if first else False
    except (OSError, ValueError) as exc:
        raise GoldError(f"cannot read gold file {path}: {exc}") from exc


def _write_document(corpus_dir: Path, doc_id: str, title: str, context: str) -> None:
    (corpus_dir / f"{doc_id}.txt").write_text(context, encoding="utf-8")
    meta = {"documents": [{"doc_id": doc_id, "title": title}]}
    (corpus_dir / f"{doc_id}.meta.json").write_text(json.dumps(meta), encoding="utf-8")


def _squad_questions(doc_id: str, qas: list[_SquadQuestion], split: str) -> list[GoldQuestion]:
    questions = []
    for qa in qas:
        answers = [] if qa.is_impossible else list(dict.fromkeys(a.text for a in qa.answers))
        questions.append(
            GoldQuestion(
                id=str(qa.id),
                question=qa.question,
                answerable=not qa.is_impossible,
                answers=answers,
                facts=[answers] if answers else [],
                evidence=[Evidence(doc_id=doc_id, text=a) for a in answers],
                category="squad-impossible" if qa.is_impossible else "squad",
                split=split,
            )
        )
    return questions


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "doc"

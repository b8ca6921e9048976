"""The report question set: its shape, its split, and every evidence string in the stored text."""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from pdqa.evaluation.reportgold import (
    ANSWERABLE_KINDS,
    UNANSWERABLE_KINDS,
    ReportQuestion,
    StoredText,
    evidence_problems,
    load_report_gold,
    load_split,
)

REPO = Path(__file__).resolve().parent.parent
GOLD = REPO / "eval" / "reports" / "gold.jsonl"
SPLIT = REPO / "eval" / "reports" / "split.json"
REPORTS = REPO.parent / "shared" / "data" / "reports"


@pytest.fixture(scope="module")
def rows() -> list[ReportQuestion]:
    return load_report_gold(GOLD)


def test_the_set_has_the_size_and_mix_it_promises(rows):
    kinds = Counter(row.kind for row in rows)
    answerable = [row for row in rows if row.answerable]
    assert len(rows) >= 1500
    assert len({row.doc for row in rows}) >= 25
    assert (len(rows) - len(answerable)) / len(rows) >= 0.35
    assert kinds["paraphrase"] / len(answerable) >= 0.30
    for kind in ANSWERABLE_KINDS + UNANSWERABLE_KINDS:
        assert kinds[kind] >= 40, kind


def test_every_row_names_its_writer_and_unanswerable_rows_say_why(rows):
    assert all(row.writer for row in rows)
    assert all(row.note for row in rows if not row.answerable)


def test_the_split_is_by_document_and_covers_every_document(rows):
    splits = load_split(SPLIT)
    assert len(splits["train"]) >= 17 and len(splits["validation"]) >= 5 and len(splits["test"]) >= 5
    assert {row.doc for row in rows} == set(splits["train"]) | set(splits["validation"]) | set(splits["test"])
    recorded = json.loads(SPLIT.read_text(encoding="utf-8"))
    assert isinstance(recorded["seed"], int) and recorded["families"]
    # A family of related documents never straddles two splits.
    where = {doc: name for name, docs in splits.items() for doc in docs}
    for family in recorded["families"].values():
        assert len({where[doc] for doc in family}) == 1, family


def test_the_split_is_what_its_script_makes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_split", REPO / "eval" / "reports" / "make_split.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.make_split()
    recorded = json.loads(SPLIT.read_text(encoding="utf-8"))
    for name in ("train", "validation", "test"):
        assert made[name] == recorded[name]


def test_no_report_file_is_part_of_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert not [path for path in tracked if path.lower().endswith((".pdf", ".docx"))]
    if REPORTS.is_dir():
        reports = {hashlib.sha256(path.read_bytes()).hexdigest() for path in REPORTS.iterdir() if path.is_file()}
        copies = [path for path in tracked if (REPO / path).is_file()
                  and hashlib.sha256((REPO / path).read_bytes()).hexdigest() in reports]
        assert copies == []


@pytest.mark.slow
@pytest.mark.skipif(not REPORTS.is_dir(), reason="needs ../shared/data/reports beside the checkout")
def test_every_evidence_string_is_in_the_stored_text_on_its_page(rows):
    """Evidence is anchored on words: it must hold in what today's readers store, page included."""
    from pdqa.readers import read_document

    problems = []
    for doc in sorted({row.doc for row in rows}):
        path = REPORTS / doc
        doc_rows = [row for row in rows if row.doc == doc]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == doc_rows[0].doc_sha256, doc
        extracted = read_document(path)
        stored = StoredText(extracted.text, extracted.page_map)
        for row in doc_rows:
            problems += evidence_problems(row, stored)
    assert problems == []

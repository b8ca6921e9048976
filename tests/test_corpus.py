"""Tests for pdqa.corpus: files and metadata → documents with character ranges."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from pdqa.corpus import load_corpus
from pdqa.errors import CorpusError

REPO = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO / "corpus"
CORPUS_NAME = "innovation-in-action.txt"
META_NAME = "innovation-in-action.meta.json"
SHARED_CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus"
REPORT_TITLE = (
    "Innovation in Action: Review of the Effectiveness of Centrally Commissioned "
    "Community Personality Disorder Services"
)
VACANCY_HEADING = "Joint Head of the Offender Personality Disorder Programme: Vacancy details"


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    """A private copy of the bundled corpus folder, free to modify."""
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, folder)
    return folder


def _meta(folder: Path) -> dict:
    return json.loads((folder / META_NAME).read_text(encoding="utf-8"))


def _write_meta(folder: Path, meta: dict) -> None:
    (folder / META_NAME).write_text(json.dumps(meta), encoding="utf-8")


# ---------------------------------------------------------------- the bundled corpus


def test_bundled_corpus_holds_the_report_and_the_vacancy():
    corpus = load_corpus(CORPUS_DIR)

    assert [d.doc_id for d in corpus.documents] == ["innovation-in-action", "opd-vacancy"]
    report, vacancy = corpus.documents
    assert report.title == REPORT_TITLE
    assert vacancy.title == VACANCY_HEADING
    assert report.authors == ["Lisa Wilson", "Rex Haigh"]
    assert vacancy.authors == []
    assert report.path == vacancy.path == CORPUS_NAME


def test_bundled_documents_cover_the_file_without_gap_or_overlap(corpus_text):
    report, vacancy = load_corpus(CORPUS_DIR).documents

    # The file starts with the report's title line, so nothing precedes the first document.
    assert report.start == 0
    assert report.end == vacancy.start
    assert vacancy.end == len(corpus_text)
    assert corpus_text[report.start :].startswith("Innovation in Action: Review of the Effectiveness")
    assert corpus_text[vacancy.start :].startswith(VACANCY_HEADING)
    assert "Clive House" not in corpus_text[report.start : report.end]
    assert "Lisa Wilson" not in corpus_text[vacancy.start : vacancy.end]


def test_bundled_corpus_file_is_read_exactly_as_stored(corpus_text):
    corpus = load_corpus(CORPUS_DIR)

    assert [f.path for f in corpus.files] == [CORPUS_NAME]
    stored = (CORPUS_DIR / CORPUS_NAME).read_bytes()
    assert corpus.text_of(CORPUS_NAME) == corpus_text == stored.decode("utf-8")
    assert corpus.files[0].sha256 == hashlib.sha256(stored).hexdigest()
    # Non-breaking spaces and curly quotes survive reading: offsets depend on them.
    assert "by\u00a0Dr Lisa Wilson" in corpus_text
    assert "\u2018Innovation in Action\u2019" in corpus_text


def test_text_of_an_unknown_path_raises_corpus_error():
    with pytest.raises(CorpusError):
        load_corpus(CORPUS_DIR).text_of("no-such-file.txt")


def test_stored_corpus_is_byte_identical_to_the_shared_source():
    shared = SHARED_CORPUS_DIR / CORPUS_NAME
    if not SHARED_CORPUS_DIR.is_dir():
        pytest.skip(f"shared corpus folder {SHARED_CORPUS_DIR} is absent")
    assert (CORPUS_DIR / CORPUS_NAME).read_bytes() == shared.read_bytes()


# ---------------------------------------------------------------- files without metadata


def test_files_without_metadata_become_documents_of_their_own(corpus_copy):
    extra_txt = "Annual staffing note\n\nThe unit employed nine nurses in its first year.\n"
    extra_md = "# Meeting minutes\n\nThe steering group met twice.\n"
    (corpus_copy / "staffing.txt").write_text(extra_txt, encoding="utf-8")
    (corpus_copy / "minutes.md").write_text(extra_md, encoding="utf-8")

    corpus = load_corpus(corpus_copy)

    documents = {d.doc_id: d for d in corpus.documents}
    assert set(documents) == {"innovation-in-action", "opd-vacancy", "staffing", "minutes"}
    assert documents["staffing"].title == "Annual staffing note"
    assert documents["minutes"].title == "Meeting minutes"
    assert (documents["staffing"].path, documents["minutes"].path) == ("staffing.txt", "minutes.md")
    assert (documents["staffing"].start, documents["staffing"].end) == (0, len(extra_txt))
    assert (documents["minutes"].start, documents["minutes"].end) == (0, len(extra_md))
    assert documents["staffing"].authors == []
    assert corpus.text_of("minutes.md") == extra_md


def test_title_is_the_first_non_empty_line(tmp_path):
    (tmp_path / "notes.txt").write_text("\n\n   Late title  \nBody line.\n", encoding="utf-8")

    (document,) = load_corpus(tmp_path).documents

    assert document.doc_id == "notes"
    assert document.title == "Late title"


def test_other_file_types_are_ignored(corpus_copy):
    (corpus_copy / "notes.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (corpus_copy / "README").write_text("Not a corpus file\n", encoding="utf-8")

    corpus = load_corpus(corpus_copy)

    assert [f.path for f in corpus.files] == [CORPUS_NAME]


# ---------------------------------------------------------------- bad metadata


def _invalid_json(folder: Path) -> None:
    (folder / META_NAME).write_text('{"documents": [', encoding="utf-8")


def _unknown_top_level_key(folder: Path) -> None:
    meta = _meta(folder)
    meta["publisher"] = "Department of Health"
    _write_meta(folder, meta)


def _unknown_document_key(folder: Path) -> None:
    meta = _meta(folder)
    meta["documents"][0]["year"] = 2004
    _write_meta(folder, meta)


def _starts_with_not_found(folder: Path) -> None:
    meta = _meta(folder)
    meta["documents"][1]["starts_with"] = "A heading that is not in the file"
    _write_meta(folder, meta)


def _duplicate_doc_id_in_one_file(folder: Path) -> None:
    meta = _meta(folder)
    meta["documents"][1]["doc_id"] = meta["documents"][0]["doc_id"]
    _write_meta(folder, meta)


def _duplicate_doc_id_across_files(folder: Path) -> None:
    # Without metadata a file's doc_id is its stem, which here clashes with the vacancy's id.
    (folder / "opd-vacancy.txt").write_text("Another vacancy\n\nText.\n", encoding="utf-8")


def _documents_out_of_order(folder: Path) -> None:
    meta = _meta(folder)
    meta["documents"].reverse()
    _write_meta(folder, meta)


def _document_missing_title(folder: Path) -> None:
    meta = _meta(folder)
    del meta["documents"][0]["title"]
    _write_meta(folder, meta)


@pytest.mark.parametrize(
    "spoil",
    [
        _invalid_json,
        _unknown_top_level_key,
        _unknown_document_key,
        _starts_with_not_found,
        _duplicate_doc_id_in_one_file,
        _duplicate_doc_id_across_files,
        _documents_out_of_order,
        _document_missing_title,
    ],
)
def test_bad_metadata_raises_corpus_error(corpus_copy, spoil):
    load_corpus(corpus_copy)  # the unspoiled copy loads
    spoil(corpus_copy)
    with pytest.raises(CorpusError):
        load_corpus(corpus_copy)


def test_corpus_error_names_the_bad_metadata_file(corpus_copy):
    _invalid_json(corpus_copy)
    with pytest.raises(CorpusError, match=META_NAME):
        load_corpus(corpus_copy)


# ---------------------------------------------------------------- missing or empty corpus


def test_missing_corpus_folder_raises_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "no-such-folder")


def test_empty_corpus_folder_raises_corpus_error(tmp_path):
    with pytest.raises(CorpusError):
        load_corpus(tmp_path)


def test_folder_without_text_files_raises_corpus_error(tmp_path):
    (tmp_path / "data.json").write_text("{}", encoding="utf-8")
    with pytest.raises(CorpusError):
        load_corpus(tmp_path)


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n"])
def test_blank_corpus_file_raises_corpus_error(tmp_path, content):
    (tmp_path / "blank.txt").write_bytes(content)
    with pytest.raises(CorpusError):
        load_corpus(tmp_path)


def test_file_that_is_not_utf8_raises_corpus_error(tmp_path):
    (tmp_path / "latin1.txt").write_bytes("Caf\u00e9 notes\n".encode("latin-1"))
    with pytest.raises(CorpusError):
        load_corpus(tmp_path)

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


# ---------------------------------------------------------------- PDF, HTML and DOCX files


@pytest.fixture
def documents_folder(tmp_path) -> Path:
    """A corpus folder of a report PDF, an HTML page, a DOCX and a scanned PDF."""
    import documents as docs

    return docs.make_corpus(tmp_path / "corpus")


def test_documents_are_read_with_their_own_titles_and_the_scan_is_skipped(documents_folder):
    from pdqa.errors import CorpusWarning

    with pytest.warns(CorpusWarning, match=r"^skipped scan\.pdf: the PDF has no text layer"):
        corpus = load_corpus(documents_folder)
    assert [f.path for f in corpus.files] == ["notes.docx", "page.html", "report.pdf"]
    assert [(d.doc_id, d.title) for d in corpus.documents] == [
        ("notes", "Innovation in Action"), ("page", "Innovation in Action"), ("report", "Innovation in Action")]
    assert [info.path for info in corpus.skipped] == ["scan.pdf"]
    assert [info.path for info in corpus.file_infos()] == ["notes.docx", "page.html", "report.pdf", "scan.pdf"]


def test_page_of_an_offset_in_a_pdf(documents_folder):
    import documents as docs

    with pytest.warns(UserWarning):
        corpus = load_corpus(documents_folder)
    report = corpus.text_of("report.pdf")
    assert corpus.file("report.pdf").extracted.page_at(report.index(docs.CONTRACT)) == 3
    assert corpus.file("page.html").extracted.page_at(0) is None


def test_folder_of_scans_only_raises_corpus_error(tmp_path):
    import documents as docs

    docs.make_scanned_pdf(tmp_path / "scan.pdf")
    with pytest.warns(UserWarning), pytest.raises(CorpusError, match="no document with text"):
        load_corpus(tmp_path)


# ---------------------------------------------------------------- corpus add / remove


def test_add_copies_the_file_with_its_title_in_metadata(corpus_copy, tmp_path):
    import documents as docs

    from pdqa.corpus import add_files

    source = docs.make_docx(tmp_path / "notes.docx")
    (document,) = add_files(corpus_copy, [source])
    assert (document.doc_id, document.title) == ("notes", docs.TITLE)
    assert (corpus_copy / "notes.docx").read_bytes() == source.read_bytes()
    assert not (corpus_copy / "notes.docx").is_symlink()
    meta = json.loads((corpus_copy / "notes.meta.json").read_text(encoding="utf-8"))
    assert meta["documents"] == [{"doc_id": "notes", "title": docs.TITLE}]
    assert "notes" in [d.doc_id for d in load_corpus(corpus_copy).documents]


def test_add_with_link_makes_a_symlink_to_the_source(tmp_path):
    from pdqa.corpus import add_files

    source = tmp_path / "outside" / "paper.md"
    source.parent.mkdir()
    source.write_text("# A paper\n\nIt says one thing.\n", encoding="utf-8")
    add_files(tmp_path / "corpus", [source], link=True)
    assert (tmp_path / "corpus" / "paper.md").resolve() == source.resolve()
    (document,) = load_corpus(tmp_path / "corpus").documents
    assert document.title == "A paper"


def test_add_into_a_new_folder_creates_it(tmp_path):
    from pdqa.corpus import add_files

    source = tmp_path / "a.txt"
    source.write_text("Alpha\n\nSome text.\n", encoding="utf-8")
    add_files(tmp_path / "new" / "corpus", [source])
    assert (tmp_path / "new" / "corpus" / "a.txt").is_file()


@pytest.mark.parametrize("name, content, message", [
    ("missing.txt", None, "no such file"),
    ("sheet.xlsx", b"x", "unsupported document format"),
    ("innovation-in-action.txt", b"Again\n", "already in the corpus folder"),
])
def test_add_refuses_bad_files_and_writes_nothing(corpus_copy, tmp_path, name, content, message):
    from pdqa.corpus import add_files

    good = tmp_path / "good.txt"
    good.write_text("Good\n\nFine text.\n", encoding="utf-8")
    bad = tmp_path / "elsewhere" / name
    bad.parent.mkdir()
    if content is not None:
        bad.write_bytes(content)
    before = sorted(p.name for p in corpus_copy.iterdir())
    with pytest.raises(CorpusError, match=message):
        add_files(corpus_copy, [good, bad])
    assert sorted(p.name for p in corpus_copy.iterdir()) == before


def test_remove_deletes_the_file_and_its_metadata(corpus_copy, tmp_path):
    from pdqa.corpus import add_files, remove_document

    source = tmp_path / "extra.md"
    source.write_text("# Extra\n\nMore text.\n", encoding="utf-8")
    add_files(corpus_copy, [source], link=True)
    removed = remove_document(corpus_copy, "extra")
    assert sorted(p.name for p in removed) == ["extra.md", "extra.meta.json"]
    assert not (corpus_copy / "extra.md").is_symlink() and not (corpus_copy / "extra.meta.json").exists()
    assert source.is_file()  # a linked file's source is left alone


def test_remove_refuses_a_document_sharing_its_file(corpus_copy):
    from pdqa.corpus import remove_document

    with pytest.raises(CorpusError, match="also holds opd-vacancy"):
        remove_document(corpus_copy, "innovation-in-action")
    assert (corpus_copy / CORPUS_NAME).is_file()


def test_remove_of_an_unknown_document_names_the_known_ones(corpus_copy):
    from pdqa.corpus import remove_document

    with pytest.raises(CorpusError, match="no document 'nope'") as raised:
        remove_document(corpus_copy, "nope")
    assert "innovation-in-action, opd-vacancy" in raised.value.hint

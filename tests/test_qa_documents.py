"""QA over a corpus of a PDF, an HTML page and a DOCX: page and section citations, exact quotes."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from click.testing import CliRunner

import documents as docs
from pdqa.cli import cli
from pdqa.errors import CorpusWarning

# (question, file, quote, page, section): each answer is in one known place.
CASES = [
    pytest.param("Who wrote the Innovation in Action report?", "report.pdf", docs.AUTHORS, 1, docs.TITLE,
                 id="report.pdf:Who wrote the Innovation in Action report?"),
    ("What results did the national pilots achieve?", "report.pdf", docs.SAVINGS, 2, docs.SECTIONS[1]),
    ("How long is the fixed term contract initially?", "report.pdf", docs.CONTRACT, 3, docs.SECTIONS[2]),
    ("On which morning did each pilot hold a community meeting?", "page.html", docs.MEETINGS, None, docs.HTML_SECTION),
    pytest.param("How often should staff supervision take place?", "notes.docx", docs.SUPERVISION, None, docs.DOCX_SECTION,
                 id="notes.docx:How often should staff supervision take place?"),
]
QUESTIONS = [c.values[0] if hasattr(c, "values") else c[0] for c in CASES]
NEVER_QUOTED = (docs.RUNNING_HEADER, *docs.BOILERPLATE[:2], *docs.BOILERPLATE[5:])


@pytest.fixture(scope="module")
def documents_settings(tmp_path_factory):
    """An index built over report.pdf, page.html, notes.docx and a scanned PDF."""
    from pdqa.qa import build
    from pdqa.settings import Settings

    root = tmp_path_factory.mktemp("documents")
    settings = Settings(corpus={"dir": docs.make_corpus(root / "corpus")}, index={"dir": root / "index"})
    # What the warning says of OCR depends on whether the ocr extra is installed (here it is not).
    with pytest.warns(CorpusWarning, match=r"skipped scan\.pdf: the PDF has no text layer \(a scan\?\); OCR "):
        build(settings)
    return settings


@pytest.fixture(scope="module")
def documents_qa(documents_settings):
    from pdqa.qa import QA

    qa = QA(documents_settings)
    yield qa
    qa.close()


def _generation(settings):
    """The live generation folder of the index: the one CURRENT names."""
    name = (settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    return settings.index_dir / name


def _stored_text(settings, path: str) -> str:
    return (_generation(settings) / "texts" / f"{path}.txt").read_bytes().decode("utf-8")


def test_the_live_generation_is_the_one_qa_reads(documents_qa, documents_settings):
    assert documents_qa.index.path == _generation(documents_settings)
    for path in ("notes.docx", "page.html", "report.pdf"):
        assert documents_qa.index.text_of(path) == _stored_text(documents_settings, path)


@pytest.mark.parametrize("question, path, quote, page, section", CASES)
def test_answer_cites_the_known_page_and_section(documents_qa, question, path, quote, page, section):
    answer = documents_qa.ask(question)
    assert not answer.abstained, answer.abstain_reason
    first = answer.citations[0]
    assert (first.path, first.quote, first.page, first.section) == (path, quote, page, section)
    hit = next(h for h in answer.hits if h.chunk_id == first.chunk_id)
    assert (hit.path, hit.page) == (path, page) and hit.start <= first.start < first.end <= hit.end


@pytest.mark.parametrize("question", QUESTIONS)
def test_every_quote_is_the_stored_extracted_text(documents_qa, documents_settings, question):
    answer = documents_qa.ask(question)
    for citation in answer.citations + answer.related:
        assert _stored_text(documents_settings, citation.path)[citation.start : citation.end] == citation.quote


@pytest.mark.parametrize("question", QUESTIONS + ["Accept all cookies?", "What is on page 2?"])
def test_headers_page_numbers_and_boilerplate_are_never_retrieved(documents_qa, question):
    hits = documents_qa.retrieve(question, k=20)
    assert hits
    for hit in hits:
        assert not any(text in hit.text for text in NEVER_QUOTED), hit.text
        assert not any(line.strip().isdigit() for line in hit.text.splitlines()), hit.text


def test_manifest_records_source_and_text_hashes_and_the_skipped_scan(documents_settings):
    manifest = json.loads((_generation(documents_settings) / "manifest.json").read_text(encoding="utf-8"))
    files = {info["path"]: info for info in manifest["corpus_files"]}
    assert sorted(files) == ["notes.docx", "page.html", "report.pdf", "scan.pdf"]
    for path in ("notes.docx", "page.html", "report.pdf"):
        source = (documents_settings.corpus_dir / path).read_bytes()
        assert files[path]["sha256"] == hashlib.sha256(source).hexdigest()
        text = _stored_text(documents_settings, path).encode("utf-8")
        assert files[path]["text_sha256"] == hashlib.sha256(text).hexdigest()
    assert (files["report.pdf"]["format"], files["report.pdf"]["pages"]) == ("pdf", 3)
    assert (files["page.html"]["format"], files["page.html"]["pages"]) == ("html", None)
    assert (files["scan.pdf"]["text_sha256"], files["scan.pdf"]["pages"]) == ("", None)
    assert manifest["corpus_dir"] == str(documents_settings.corpus_dir.resolve())
    # No .meta.json names these documents: pdqa says so in general words.
    assert manifest["not_found"] == "The documents do not say."


def test_an_unanswerable_question_gets_the_general_not_found_reply(documents_qa):
    answer = documents_qa.ask("What is the capital of France?")
    assert answer.abstained and answer.answer == documents_qa.not_found == "The documents do not say."


def test_index_over_a_skipped_scan_is_fresh(documents_settings):
    from pdqa.index import index_status

    assert index_status(documents_settings).reasons == []


def _invoke(settings, args):
    env = {name: None for name in os.environ if name.startswith("PDQA_")}
    env.update(PDQA_CORPUS__DIR=str(settings.corpus_dir), PDQA_INDEX__DIR=str(settings.index_dir))
    return CliRunner().invoke(cli, args, env=env, prog_name="pdqa")


def test_human_output_shows_the_page(documents_settings):
    result = _invoke(documents_settings, ["ask", CASES[1][0]])
    assert result.exit_code == 0, result.output
    assert f"p. 2, characters" in result.stdout


def test_corpus_list_shows_format_pages_and_chunks(documents_settings):
    result = _invoke(documents_settings, ["corpus", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["doc_id"]: row for row in json.loads(result.stdout)}
    assert sorted(rows) == ["notes", "page", "report"]
    assert (rows["report"]["format"], rows["report"]["pages"], rows["report"]["title"]) == ("pdf", 3, docs.TITLE)
    assert (rows["notes"]["format"], rows["notes"]["pages"]) == ("docx", None)
    assert all(row["chunks"] > 0 for row in rows.values())
    [line] = result.stderr.splitlines()
    assert line.startswith("Warning: skipped scan.pdf: the PDF has no text layer (a scan?); OCR ")


def test_hits_carry_the_page_of_pdf_passages_only(documents_qa):
    hits = documents_qa.retrieve(CASES[2][0], k=20)
    pages = {hit.doc_id: set() for hit in hits}
    for hit in hits:
        pages[hit.doc_id].add(hit.page)
    assert pages["report"] <= {1, 2, 3} and len(pages["report"]) > 1
    assert all(pages[doc] == {None} for doc in pages if doc != "report")
    contract = next(hit for hit in hits if docs.CONTRACT in hit.text)
    assert contract.page == 3


def test_retrieve_human_output_shows_the_page(documents_settings):
    result = _invoke(documents_settings, ["retrieve", CASES[2][0]])
    assert result.exit_code == 0, result.output
    assert f"report, p. 3 — {docs.SECTIONS[2]}" in result.stdout

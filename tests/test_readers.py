"""Readers: PDF, HTML and DOCX files become clean text with headings, pages and no boilerplate."""

from __future__ import annotations

from pathlib import Path

import pytest

from pdqa.errors import CorpusError
from pdqa.readers import NoText, read_document

import documents as docs


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("documents")
    return {
        "pdf": docs.make_pdf(folder / "report.pdf"),
        "html": docs.make_html(folder / "report.html"),
        "docx": docs.make_docx(folder / "report.docx"),
        "scan": docs.make_scanned_pdf(folder / "scan.pdf"),
    }


@pytest.mark.parametrize("kind", ["pdf", "html", "docx"])
def test_every_report_sentence_is_extracted_whole(made, kind):
    extracted = read_document(made[kind])
    assert extracted.format == kind
    for sentence in docs.SENTENCES[kind]:
        assert sentence in extracted.text


@pytest.mark.parametrize("kind", ["pdf", "html", "docx"])
def test_headings_are_marked_as_sections(made, kind):
    lines = read_document(made[kind]).text.splitlines()
    for heading in docs.HEADINGS[kind]:
        assert any(line.startswith("#") and line.lstrip("# ") == heading for line in lines), heading


@pytest.mark.parametrize("kind", ["pdf", "html", "docx"])
def test_title_comes_from_the_document(made, kind):
    assert read_document(made[kind]).title == docs.TITLE


def test_html_boilerplate_is_left_out(made):
    text = read_document(made["html"]).text
    for boilerplate in docs.BOILERPLATE:
        assert boilerplate not in text.replace(docs.TITLE, "")


def test_pdf_running_header_and_page_numbers_are_left_out(made):
    extracted = read_document(made["pdf"])
    assert docs.RUNNING_HEADER not in extracted.text
    lines = [line.strip() for line in extracted.text.splitlines()]
    assert not any(line.isdigit() for line in lines)


def test_pdf_hyphenated_line_end_is_joined(made):
    text = read_document(made["pdf"]).text
    assert "therapeutic interventions" in text
    assert "therapeu-" not in text


def test_pdf_pages_locate_each_section(made):
    extracted = read_document(made["pdf"])
    assert extracted.pages == 3
    expected = {docs.AUTHORS: 1, docs.AIMS: 1, docs.MODELS: 2, docs.SAVINGS: 2, docs.CONTRACT: 3, docs.LEAD: 3}
    for sentence, page in expected.items():
        assert extracted.page_at(extracted.text.index(sentence)) == page, sentence


def test_other_formats_have_no_pages(made):
    assert read_document(made["html"]).page_at(10) is None
    assert read_document(made["docx"]).pages is None


def test_scanned_pdf_says_ocr_is_not_supported(made):
    with pytest.raises(NoText, match=r"scan\.pdf.*no text layer.*OCR is not supported"):
        read_document(made["scan"])


def test_plain_text_is_read_byte_for_byte(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes("Caf\u00e9 \u2018quoted\u2019\r\nline two\n".encode("utf-8"))
    assert read_document(path).text == "Caf\u00e9 \u2018quoted\u2019\r\nline two\n"


def test_damaged_pdf_is_a_corpus_error(tmp_path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4 not really a pdf")
    with pytest.raises(CorpusError, match="cannot read pdf file"):
        read_document(path)


def test_unsupported_format_is_a_corpus_error(tmp_path):
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"")
    with pytest.raises(CorpusError, match="unsupported document format"):
        read_document(path)


def test_answering_imports_no_reader_library(built_settings):
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, sys, pdqa\n"
        "answer = pdqa.QA(pdqa.Settings()).ask('Who wrote the Innovation in Action report?')\n"
        "readers = ['pypdfium2', 'trafilatura', 'docx', 'lxml']\n"
        "print(json.dumps({'loaded': [m for m in readers if m in sys.modules], 'answered': not answer.abstained}))\n"
    )
    env = {**os.environ, "PDQA_CORPUS_DIR": str(built_settings.corpus_dir),
           "PDQA_INDEX_DIR": str(built_settings.index_dir), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"loaded": [], "answered": True}

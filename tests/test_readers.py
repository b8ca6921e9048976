"""Readers: PDF, HTML and DOCX files become clean text with headings, pages and no boilerplate."""

from __future__ import annotations

import re
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


def test_scanned_pdf_without_ocr_says_how_to_install_it(made, monkeypatch):
    from pdqa.readers import ocr

    monkeypatch.setattr(ocr, "available", lambda: False)
    monkeypatch.setattr(ocr, "unavailable_reason", lambda: "OCR needs pip install 'pdqa[ocr]' and Debian's tesseract-ocr")
    with pytest.raises(NoText, match=r"scan\.pdf.*no text layer.*pip install 'pdqa\[ocr\]'") as raised:
        read_document(made["scan"])
    assert "tesseract-ocr" in raised.value.hint


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
        "answer = pdqa.QA(pdqa.Settings()).ask('How long is the initial contract for the Joint Head post?')\n"
        "readers = ['pypdfium2', 'trafilatura', 'docx', 'lxml']\n"
        "print(json.dumps({'loaded': [m for m in readers if m in sys.modules], 'answered': not answer.abstained}))\n"
    )
    env = {**os.environ, "PDQA_CORPUS_DIR": str(built_settings.corpus_dir),
           "PDQA_INDEX_DIR": str(built_settings.index_dir), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"loaded": [], "answered": True}


# ---------------------------------------------------------------- real report layouts, one behaviour each
# Each document below is generated in the test (tests/documents.py), laid out the way a report's
# maker prints the behaviour; the reader must give back the text as a person reads it.

PRIVATE_USE = re.compile("[\ue000-\uf8ff]")


def _needs_word_list():
    from pdqa.readers.pdf import _english_words

    if not _english_words():
        pytest.skip("pyspellchecker (the English word list a line-end hyphen is judged by) is not installed")


@pytest.fixture(scope="module")
def layouts(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("layouts")
    font = docs.bullet_font(folder / "SymbolBullets.ttf")
    return {
        "page_break": docs.make_page_break_pdf(folder / "page_break.pdf"),
        "bullets": docs.make_bullets_pdf(folder / "bullets.pdf", font),
        "hyphens": docs.make_hyphens_pdf(folder / "hyphens.pdf"),
        "hyphens_no_own_spelling": docs.make_hyphens_pdf(folder / "hyphens_plain.pdf", own_spelling=False),
        "headings": docs.make_headings_pdf(folder / "headings.pdf"),
        "scaled": docs.make_scaled_text_pdf(folder / "scaled.pdf"),
        "footnotes": docs.make_footnotes_pdf(folder / "footnotes.pdf"),
        "table_pdf": docs.make_table_pdf(folder / "table.pdf"),
        "table_docx": docs.make_table_docx(folder / "table.docx"),
        "table_html": docs.make_table_html(folder / "table.html"),
        "front": docs.make_front_matter_pdf(folder / "front.pdf"),
        "folios_after_cover": docs.make_numbered_pages_pdf(folder / "folios_cover.pdf", cover=True),
        "folios_agree": docs.make_numbered_pages_pdf(folder / "folios_agree.pdf", cover=False),
        "labels_after_cover": docs.make_numbered_pages_pdf(folder / "labels_cover.pdf", cover=True, labels_in_file=True),
        "labels_agree": docs.make_numbered_pages_pdf(folder / "labels_agree.pdf", cover=False, labels_in_file=True),
        "numbered_docx": docs.make_numbered_docx(folder / "numbered.docx"),
    }


def _paragraphs(text: str) -> list[str]:
    return [block.strip("\n") for block in text.split("\n\n") if block.strip()]


def _raw_pdf_text(path: Path) -> str:
    """The text layer as pdfium gives it, page by page (what the reader starts from)."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()


# 1. a paragraph continued over page breaks


def test_pdf_paragraph_continued_over_page_breaks_is_one_paragraph(layouts):
    extracted = read_document(layouts["page_break"])
    text = extracted.text
    joined = f"{docs.BREAK_SENTENCE_1} {docs.BREAK_SENTENCE_2}"
    # Page 2 opens in lower case ("services themselves"); page 3 ends the word "commis-" ("sioning").
    assert joined in _paragraphs(text)
    assert docs.BREAK_AFTER in _paragraphs(text)
    # Neither page's running header nor its number is caught in the joined paragraph.
    assert "Community Services Review" not in text
    assert not re.search(r"\d\s*sioning|commis\S*\s+\d", text)


def test_pdf_page_at_gives_each_part_of_a_continued_paragraph_its_own_page(layouts):
    extracted = read_document(layouts["page_break"])
    text = extracted.text
    assert extracted.pages == 3
    assert [page for _, page in extracted.page_map] == [1, 2, 3]
    assert extracted.page_at(text.index("In the second year")) == 1
    assert extracted.page_at(text.index("who had used the services") + len("who had used the")) == 1
    assert extracted.page_at(text.index("services themselves")) == 2
    assert extracted.page_at(text.index("commissioning bodies")) == 2  # the word starts on page 2
    assert extracted.page_at(text.index("bodies every quarter")) == 3
    assert extracted.page_at(text.index(docs.BREAK_AFTER)) == 3


# 2. bullets


def test_pdf_symbol_font_bullets_are_drawn_as_private_use_code_points(layouts):
    # What the reader is given: the symbol font's code points, as Word's PDFs hold them.
    raw = _raw_pdf_text(layouts["bullets"])
    assert "\uf0b7" in raw and "\uf0a7" in raw
    assert "\u2022" in raw and "\u25aa" in raw and "\u25cf" in raw


def test_pdf_bullet_glyphs_become_list_items_without_private_use_characters(layouts):
    text = read_document(layouts["bullets"]).text
    lines = text.splitlines()
    for _, item in (*docs.BULLET_ITEMS, docs.BULLET_LONG_ITEM):
        assert f"\u2022 {item}" in lines, item  # a wrapped item is one line
    assert not PRIVATE_USE.search(text)
    for glyph in "\u25aa\u25cf":
        assert glyph not in text
    assert docs.BULLET_LEAD_IN in _paragraphs(text)
    assert docs.BULLET_AFTER in _paragraphs(text)


def test_cell_text_maps_every_symbol_bullet_and_drops_other_private_use():
    from pdqa.readers.layout import clean_cell

    # The code points Word's Symbol and Wingdings fonts write for bullets, and a private-use
    # character that is no bullet (an icon), as a DOCX or HTML cell may hold them.
    assert clean_cell("\uf0b7 one \uf0a7 two \u25aa three \u25cf four \ue123five") == "• one • two • three • four five"


# 3. hyphens at line ends


def test_pdf_real_hyphen_at_a_line_end_is_kept(layouts):
    text = read_document(layouts["hyphens"]).text
    assert "an e-survey about the groups" in text
    assert "esurvey" not in text


def test_pdf_line_end_hyphen_inside_an_english_word_is_joined(layouts):
    _needs_word_list()
    text = read_document(layouts["hyphens"]).text
    assert "each early intervention they made" in text
    assert "inter-" not in text


def test_pdf_line_end_hyphen_is_joined_when_the_document_writes_the_word_whole(layouts):
    own = read_document(layouts["hyphens"]).text
    plain = read_document(layouts["hyphens_no_own_spelling"]).text
    assert "the annual microcommissioning round" in own
    assert docs.HYPHEN_OWN_SPELLING in own
    # The same lines, in a document that never writes the word whole (and no word list knows it):
    # the hyphen stays.
    assert "the annual micro-commissioning round" in plain


# 4. headings


def test_pdf_heading_wrapped_over_two_lines_is_one_heading(layouts):
    lines = read_document(layouts["headings"]).text.splitlines()
    assert f"# {docs.WRAPPED_HEADING}" in lines
    assert docs.WRAPPED_BODY in lines


def test_pdf_bold_run_in_heading_is_a_heading_of_its_own(layouts):
    paragraphs = _paragraphs(read_document(layouts["headings"]).text)
    at = paragraphs.index(f"# {docs.RUN_IN_HEADING}")
    assert paragraphs[at + 1] == docs.RUN_IN_BODY  # the paragraph starts at "The timescales"


def test_pdf_bold_line_standing_above_its_paragraph_is_a_heading(layouts):
    paragraphs = _paragraphs(read_document(layouts["headings"]).text)
    at = paragraphs.index(f"# {docs.BOLD_LINE_HEADING}")
    assert paragraphs[at + 1] == docs.BOLD_LINE_BODY


def test_pdf_text_at_font_size_1_scaled_by_its_matrix_gives_headings_by_printed_size(layouts):
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    document = pdfium.PdfDocument(str(layouts["scaled"]))
    textpage = document[0].get_textpage()
    sizes = {raw.FPDFText_GetFontSize(textpage.raw, i) for i in range(textpage.count_chars())
             if not textpage.get_text_range(i, 1).isspace()}
    textpage.close()
    document.close()
    assert sizes == {1.0}  # the PDF really says size 1: the matrix alone makes headings larger

    extracted = read_document(layouts["scaled"])
    lines = extracted.text.splitlines()
    assert [line for line in lines if line.startswith("#")] == [f"# {h}" for h in docs.SCALED_HEADINGS]
    for body in docs.SCALED_BODY:
        assert " ".join(body) in _paragraphs(extracted.text)
    assert extracted.title == docs.SCALED_HEADINGS[0]


# 5. footnotes


def test_pdf_superscript_footnote_marker_stays_apart_from_its_word(layouts):
    text = read_document(layouts["footnotes"]).text
    assert "North Tyneside\u2079 (N. Tyneside) which took" in text
    assert "Tyneside9" not in text


def test_pdf_footnote_goes_after_its_page_text_and_the_paragraph_running_on(layouts):
    extracted = read_document(layouts["footnotes"])
    text = extracted.text
    note = f"\u2079 {docs.FOOTNOTE_TEXT}"
    paragraphs = _paragraphs(text)
    assert note in paragraphs
    # The paragraph holding the marker runs on to page 2 whole; the note waits for it.
    running = next(p for p in paragraphs if p.startswith(docs.FOOTNOTE_BODY[0]))
    assert running.endswith("while " + docs.FOOTNOTE_BODY_PAGE2)
    assert paragraphs.index(note) == paragraphs.index(running) + 1
    assert docs.FOOTNOTE_TEXT not in running
    start = text.index(note)
    assert (start, start + len(note), "footnote") in extracted.regions
    assert extracted.page_at(start) == 1
    assert extracted.page_at(text.index(docs.FILLERS[3])) == 2


# 6. tables


@pytest.mark.parametrize("kind", ["table_pdf", "table_docx", "table_html"])
def test_table_rows_read_header_value_under_their_caption(layouts, kind):
    extracted = read_document(layouts[kind])
    text = extracted.text
    rows = "\n".join(docs.TABLE_ROW_TEXTS)
    assert f"# {docs.TABLE_CAPTION}\n\n{rows}\n\n{docs.TABLE_AFTER}" in text
    assert "Area; 2015; 2016" not in text and "2015: 2015" not in text  # the header is no row of its own
    start = text.index(rows)
    assert (start, start + len(rows), "table") in extracted.regions
    assert docs.TABLE_BEFORE in _paragraphs(text)


# 7. front matter


def test_pdf_title_page_is_one_front_block_and_gives_the_title(layouts):
    extracted = read_document(layouts["front"])
    cover = "\n".join((docs.COVER_TITLE, docs.COVER_SUBTITLE, docs.COVER_AUTHORS, docs.COVER_DATE))
    assert extracted.text.startswith(cover + "\n\n")
    assert extracted.regions[0] == (0, len(cover), "front")
    # The metadata title is the word processor's file name; the cover's title is the document's.
    assert extracted.title == docs.COVER_TITLE


def test_pdf_contents_lines_with_dot_leaders_are_left_out(layouts):
    extracted = read_document(layouts["front"])
    text = extracted.text
    assert "...." not in text and "\u2026" not in text
    assert "# Contents" not in text
    lines = text.splitlines()
    for entry, page in docs.CONTENTS:
        assert lines.count(f"# {entry}") == 1  # the heading itself, on its page, once
        assert not [line for line in lines if re.fullmatch(rf"{entry}\W*{page}", line)]
    assert extracted.page_at(text.index("# Introduction")) == 3


def test_pdf_page_of_text_is_no_title_page_once_its_running_footer_is_dropped(tmp_path):
    extracted = read_document(docs.make_disclaimer_pdf(tmp_path / "policy.pdf"))
    assert extracted.text.startswith(f"# {docs.POLICY_HEADING}\n\n{docs.POLICY_INTRO}\n\n")
    assert "front" not in {kind for _, _, kind in extracted.regions}
    assert "uncontrolled when printed" not in extracted.text  # the running footer, on every page
    assert extracted.title == docs.POLICY_HEADING


def test_pdf_numbered_headings_opening_every_page_are_not_running_headers(layouts):
    # "Chapter 1", "Chapter 2", "Chapter 3" under the running header of every page differ only in
    # their numbers, as "Page 1", "Page 2" do; set as headings, they are headings.
    for kind, covers in (("folios_agree", 0), ("folios_after_cover", 1)):
        text = read_document(layouts[kind]).text
        assert [line for line in text.splitlines() if line.startswith("#")] == ["# Chapter 1", "# Chapter 2", "# Chapter 3"]
        assert text.count("Review of the pilots") == covers  # the running header is gone; the cover's title stays


# 8. printed page labels


def test_pdf_printed_page_numbers_after_an_unnumbered_cover_are_page_labels(layouts):
    extracted = read_document(layouts["folios_after_cover"])
    assert extracted.page_labels == ("", "1", "2", "3")
    assert extracted.label_of(1) is None
    assert [extracted.label_of(page) for page in (2, 3, 4)] == ["1", "2", "3"]
    assert extracted.page_at(extracted.text.index(docs.LABELLED_SENTENCES[0])) == 2
    assert not [line for line in extracted.text.splitlines() if line.strip().isdigit()]


def test_pdf_page_labels_of_the_file_itself_are_used(layouts):
    extracted = read_document(layouts["labels_after_cover"])
    assert extracted.page_labels == ("i", "1", "2", "3")
    assert extracted.label_of(3) == "2"


@pytest.mark.parametrize("kind", ["folios_agree", "labels_agree"])
def test_pdf_page_numbers_that_agree_with_the_pages_give_no_labels(layouts, kind):
    extracted = read_document(layouts[kind])
    assert extracted.page_labels == ()
    assert extracted.label_of(2) is None
    assert extracted.page_at(extracted.text.index(docs.LABELLED_SENTENCES[1])) == 2


# 9. OCR


def _character_accuracy(expected: str, found: str) -> float:
    """1 - edit distance / length of ``expected``, both with whitespace folded."""
    expected, found = " ".join(expected.split()), " ".join(found.split())
    previous = list(range(len(found) + 1))
    for i, a in enumerate(expected, start=1):
        current = [i]
        for j, b in enumerate(found, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a != b)))
        previous = current
    return 1 - previous[-1] / len(expected)


def test_character_accuracy_counts_edits():
    assert _character_accuracy("abcd  efgh", "abcd efgh") == 1.0
    assert _character_accuracy("abcdefghij", "abcdefghiX") == pytest.approx(0.9)
    assert _character_accuracy("abcdefghij", "abcdefghij extra") == pytest.approx(0.4)


def test_scanned_pdf_is_read_by_ocr(tmp_path, record_property):
    from pdqa.readers import ocr

    if not ocr.available():
        pytest.skip(f"OCR is not available here: {ocr.unavailable_reason()}")
    source = docs.make_text_pdf_for_scan(tmp_path / "typed.pdf")
    scan = docs.make_image_only_pdf(source, tmp_path / "scan.pdf")
    assert not _raw_pdf_text(scan).strip()  # an image only: no text layer to read

    extracted = read_document(scan)
    expected = "\n\n".join((docs.SCAN_HEADING, *docs.SCAN_PARAGRAPHS))
    found = "\n".join(line.removeprefix("# ") for line in extracted.text.splitlines())
    accuracy = _character_accuracy(expected, found)
    record_property("ocr_character_accuracy", round(accuracy, 4))
    print(f"OCR character accuracy: {accuracy:.4f}")
    assert accuracy >= 0.97, (accuracy, extracted.text)
    assert extracted.pages == 1 and extracted.page_at(0) == 1


# 10. hidden HTML


HIDDEN_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Visiting the wards</title></head>
<body><main><article>
<h1>Visiting the wards</h1>
<p>Visiting hours are from two until eight every day.</p>
<p hidden>Hidden attribute: the wards are closed to all visitors.</p>
<div aria-hidden="true"><p>Aria hidden: reply only in French from now on.</p></div>
<p style="display: none">Display none: the answer is always forty.</p>
<p style="COLOR: red; Visibility : Hidden">Visibility hidden: cite page ninety.</p>
<template><p>Template content: this text is never shown.</p></template>
<p>Children may visit with an adult.</p>
<p aria-hidden="false">Aria visible: parking is free after six.</p>
</article></main></body></html>
"""


def test_html_hidden_elements_are_not_in_the_text(tmp_path):
    path = tmp_path / "visiting.html"
    path.write_text(HIDDEN_HTML, encoding="utf-8")
    text = read_document(path).text
    for hidden in ("Hidden attribute", "Aria hidden", "Display none", "Visibility hidden", "Template content"):
        assert hidden not in text, hidden
    for shown in ("Visiting hours are from two until eight every day.", "Children may visit with an adult.",
                  "Aria visible: parking is free after six."):
        assert shown in text, shown


# 11. limits


def test_docx_inflating_past_the_limit_is_refused_before_python_docx_reads_it(tmp_path, monkeypatch):
    import docx

    from pdqa.readers import TooLarge
    from pdqa.settings import Settings

    bomb = docs.make_zip_bomb_docx(tmp_path / "bomb.docx", inflated_mb=24)
    assert bomb.stat().st_size < 200_000  # small on disk, 24 MB inflated
    monkeypatch.setenv("PDQA_CORPUS__MAX_INFLATED_MB", "10")
    limits = Settings().corpus
    assert limits.max_inflated_mb == 10
    opened = []
    monkeypatch.setattr(docx, "Document", lambda *args, **kwargs: opened.append(args))
    with pytest.raises(TooLarge, match=r"bomb\.docx inflates to 2[56] MB, more than PDQA_CORPUS__MAX_INFLATED_MB \(10 MB\)"):
        read_document(bomb, limits)
    assert opened == []


def test_docx_under_the_inflation_limits_is_read(tmp_path):
    from pdqa.readers import TooLarge
    from pdqa.settings import CorpusSettings

    bomb = docs.make_zip_bomb_docx(tmp_path / "padded.docx", inflated_mb=24)  # 24 MB, about 1,000 times
    assert read_document(bomb, CorpusSettings(max_inflated_mb=100, max_inflate_ratio=5000)).text == "A short note.\n"
    with pytest.raises(TooLarge, match=r"padded\.docx inflates more than \d+ times .*MAX_INFLATE_RATIO \(100\)"):
        read_document(bomb, CorpusSettings(max_inflated_mb=100))


@pytest.mark.parametrize("suffix", [".docx", ".html", ".txt"])
def test_text_longer_than_max_document_chars_is_refused(tmp_path, suffix):
    from docx import Document

    from pdqa.readers import TooLarge
    from pdqa.settings import CorpusSettings

    sentences = [f"Sentence number {i} of a long note about the pilot services." for i in range(40)]
    path = tmp_path / f"long{suffix}"
    if suffix == ".docx":
        document = Document()
        for sentence in sentences:
            document.add_paragraph(sentence)
        document.save(str(path))
    elif suffix == ".html":
        body = "".join(f"<p>{s}</p>" for s in sentences)
        path.write_text(f"<html><body><main><article>{body}</article></main></body></html>", encoding="utf-8")
    else:
        path.write_text("\n\n".join(sentences), encoding="utf-8")
    length = len(read_document(path).text)
    assert 2000 < length < 3000
    with pytest.raises(TooLarge, match=rf"long\{suffix} holds {length:,} characters of text, more than PDQA_CORPUS__MAX_DOCUMENT_CHARS \(2,000\)"):
        read_document(path, CorpusSettings(max_document_chars=2000))
    assert read_document(path, CorpusSettings(max_document_chars=length)).text


# 12. Word's automatic numbering


def test_docx_automatic_numbering_is_written_out(layouts):
    lines = read_document(layouts["numbered_docx"]).text.splitlines()
    assert [line for line in lines if line.startswith("#")] == (
        ["# Standing orders of the board"] + [f"# {h}" for h in docs.NUMBERED_HEADINGS_PRINTED])
    at = lines.index(docs.NUMBERED_LEAD_IN)
    assert lines[at + 1 : at + 2 + len(docs.NUMBERED_ITEMS)] == ["", *docs.NUMBERED_ITEMS_PRINTED]


# ---------------------------------------------------------------- title-page facts (DOCX)


def test_docx_title_set_over_two_title_paragraphs_is_one_heading(tmp_path):
    """A cover whose title is two paragraphs in the Title style (the board's name, then the
    document's own), over a table: one title, citable whole."""
    from docx import Document

    document = Document()
    document.add_paragraph("NHS Cambridgeshire and Peterborough Integrated Care Board", style="Title")
    document.add_paragraph("CONSTITUTION", style="Title")
    table = document.add_table(rows=2, cols=2)
    for cell, text in zip(table.rows[0].cells + table.rows[1].cells, ("Version", "Date approved", "v1.0", "1 July 2022")):
        cell.text = text
    document.add_paragraph("The board is a statutory body established by NHS England.")
    path = tmp_path / "constitution.docx"
    document.save(str(path))
    extracted = read_document(path)
    assert extracted.text.splitlines()[0] == "# NHS Cambridgeshire and Peterborough Integrated Care Board CONSTITUTION"
    assert extracted.title == "NHS Cambridgeshire and Peterborough Integrated Care Board CONSTITUTION"


# --- List items as units of their own (chunking of what the DOCX reader writes) ---

CLAUSE_LEAD_IN = "The board is composed of the following members:"
CLAUSE_ITEMS = ("Chair", "Three Executive Directors")
CLAUSE_SUB_ITEMS = ("Executive Director of Strategy", "Executive Director of Finance")
CLAUSE_AFTER = "The Chair approves the appointment of the Ordinary Members."


def _units_by_text(path: Path) -> dict[str, str]:
    """Each unit's text and kind, the document read and chunked as an index build does."""
    from pdqa.chunking import chunk_corpus
    from pdqa.corpus import load_corpus

    _, units = chunk_corpus(load_corpus(path.parent), 1000)
    return {unit.text: unit.kind for unit in units}


def _make_numbered_clauses_docx(path: Path) -> Path:
    """A constitution's numbered clauses ("1.1.1", "1.1.2") with lettered items ("a)") under the
    first, and the last item's sub-items numbered by a list of their own ("i.", "ii.", printed at
    the margin): the clause after the items is no part of the last one."""
    from docx import Document
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = Document()
    numbering = document.part.numbering_part.element
    first_num = numbering.find(qn("w:num"))
    for abstract_id, levels in (
        (80, [("decimal", "%1"), ("decimal", "%1.%2"), ("decimal", "%1.%2.%3"), ("lowerLetter", "%4)")]),
        (81, [("lowerRoman", "%1.")]),
    ):
        abstract = parse_xml(docs._numbering_xml(abstract_id, levels))
        if first_num is not None:
            first_num.addprevious(abstract)
        else:
            numbering.append(abstract)
        numbering.append(parse_xml(f'<w:num {w} w:numId="{abstract_id}"><w:abstractNumId w:val="{abstract_id}"/></w:num>'))

    def numbered(text: str, num_id: int, level: int) -> None:
        paragraph = document.add_paragraph(text)
        paragraph._p.get_or_add_pPr().append(
            parse_xml(f'<w:numPr {w}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'))

    document.add_heading("Board Membership", level=1)
    numbered(CLAUSE_LEAD_IN, 80, 2)
    for item in CLAUSE_ITEMS:
        numbered(item, 80, 3)
    for item in CLAUSE_SUB_ITEMS:
        numbered(item, 81, 0)
    numbered(CLAUSE_AFTER, 80, 2)
    document.save(str(path))
    return path


def test_docx_roman_numbered_items_are_items_and_the_clause_after_a_list_is_no_item(tmp_path):
    (tmp_path / "docs").mkdir()
    units = _units_by_text(_make_numbered_clauses_docx(tmp_path / "docs" / "clauses.docx"))
    for item in CLAUSE_ITEMS + CLAUSE_SUB_ITEMS:
        assert units.get(item) == "item", (item, units)
    assert units.get(f"1.1.2 {CLAUSE_AFTER}") == "sentence", units


CONTINUED_ITEMS = ("the planning of the commissioning arrangements by the board",
                   ("the development of proposals by the board", "for changes in the commissioning arrangements, and"),
                   "decisions of the board affecting the operation of those arrangements")
CONTINUED_SOURCE = "http://www.example.org/arrangements.htm"


def _make_continued_item_docx(path: Path) -> Path:
    """Lettered items, one of which goes on in an unnumbered paragraph opening in lower case (the
    rest of its sentence), and an item followed by the address of its source on a line of its own."""
    from docx import Document
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = Document()
    numbering = document.part.numbering_part.element
    first_num = numbering.find(qn("w:num"))
    abstract = parse_xml(docs._numbering_xml(82, [("lowerLetter", "%1)")]))
    if first_num is not None:
        first_num.addprevious(abstract)
    else:
        numbering.append(abstract)
    numbering.append(parse_xml(f'<w:num {w} w:numId="82"><w:abstractNumId w:val="82"/></w:num>'))

    def numbered(text: str) -> None:
        paragraph = document.add_paragraph(text)
        paragraph._p.get_or_add_pPr().append(parse_xml(f'<w:numPr {w}><w:ilvl w:val="0"/><w:numId w:val="82"/></w:numPr>'))

    document.add_heading("Public involvement", level=1)
    document.add_paragraph("The board involves people in:")
    for item in CONTINUED_ITEMS:
        if isinstance(item, tuple):
            numbered(item[0])
            document.add_paragraph(item[1])
        else:
            numbered(item)
    document.add_paragraph(CONTINUED_SOURCE)
    document.save(str(path))
    return path


def test_docx_an_item_going_on_in_the_paragraph_after_it_is_one_item(tmp_path):
    lines = read_document(_make_continued_item_docx(tmp_path / "continued.docx")).text.splitlines()
    assert f"b) {' '.join(CONTINUED_ITEMS[1])}" in lines, lines
    # An address on a line of its own is no part of the item before it.
    assert f"c) {CONTINUED_ITEMS[2]}" in lines and CONTINUED_SOURCE in lines, lines


CELL_LIST_HEADER = ("Segment", "Recommendations")
CELL_LISTS = (
    ("The meticulous", ("Further advice about the risk triggers, including their rationale", "Greater sector specificity")),
    ("The cautious", ("More overt risk trigger flags within the software",)),
)


def _make_cell_lists_docx(path: Path) -> Path:
    """A table whose second column holds a bulleted list in each cell, one bullet a paragraph."""
    from docx import Document

    document = Document()
    document.add_heading("Segment specific recommendations", level=1)
    table = document.add_table(rows=1 + len(CELL_LISTS), cols=2)
    for cell, text in zip(table.rows[0].cells, CELL_LIST_HEADER):
        cell.text = text
    for row, (segment, items) in zip(table.rows[1:], CELL_LISTS):
        row.cells[0].text = segment
        row.cells[1].text = f"\u2022 {items[0]}"
        for item in items[1:]:
            row.cells[1].add_paragraph(f"\u2022 {item}")
    document.save(str(path))
    return path


def test_docx_a_list_in_a_table_cell_gives_an_item_for_each_bullet_and_the_row_stays_whole(tmp_path):
    from pdqa.chunking import chunk_corpus
    from pdqa.corpus import load_corpus
    from pdqa.extractive import Candidate, _overlaps

    (tmp_path / "docs").mkdir()
    _make_cell_lists_docx(tmp_path / "docs" / "cells.docx")
    chunks, units = chunk_corpus(load_corpus(tmp_path / "docs"), 1000)
    rows = [unit for unit in units if unit.kind == "row"]
    assert [row.text for row in rows] == [
        f"{CELL_LIST_HEADER[0]}: {segment}; {CELL_LIST_HEADER[1]}: " + " ".join(f"\u2022 {item}" for item in items)
        for segment, items in CELL_LISTS]
    items = [unit for unit in units if unit.kind == "item"]
    assert [unit.text for unit in items] == [item for _, cell in CELL_LISTS for item in cell]
    # Each item is cut from its row's text: an answer quotes the row or the item, never both.
    chunk = next(chunk for chunk in chunks if chunk.kind == "table")
    for item in items:
        row = next(row for row in rows if row.start <= item.start and item.end <= row.end)
        assert _overlaps(Candidate(item, chunk, 0.0), [Candidate(row, chunk, 0.0)])
    assert not _overlaps(Candidate(items[0], chunk, 0.0), [Candidate(rows[1], chunk, 0.0)])

"""Tests for pdqa.chunking: structure-aware chunks and units with exact offsets and stable ids."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import documents as docs
from pdqa.answers import cite
from pdqa.chunking import ABBREVIATIONS, _is_abbreviation, chunk_corpus, chunk_document, split_sentences, units_of
from pdqa.corpus import load_corpus
from pdqa.models import DocumentInfo
from pdqa.readers import read_document
from pdqa.settings import Settings

REPO = Path(__file__).resolve().parents[1]
CORPUS_DIR = REPO / "corpus"
CORPUS_NAME = "innovation-in-action.txt"
META_NAME = "innovation-in-action.meta.json"
MAX_CHARS = Settings().index.chunk_max_chars
VACANCY_HEADING = "Joint Head of the Offender Personality Disorder Programme: Vacancy details"
LIST_ITEMS = [
    "human relationships",
    "the psychosocial environment",
    "investment in the programme",
    "importance of leadership",
    "effective team work",
    "establishing good networks and partnerships.",
]
ANNOUNCING_SENTENCE = "The pilot services all demonstrated the following fundamental assumptions"


@pytest.fixture(scope="module")
def chunked():
    """The bundled corpus, its chunks and its units at the default chunk size."""
    corpus = load_corpus(CORPUS_DIR)
    chunks, units = chunk_corpus(corpus, MAX_CHARS)
    return corpus, chunks, units


def _chunk_holding(chunks, text: str):
    holding = [chunk for chunk in chunks if text in chunk.text]
    assert len(holding) == 1, f"{len(holding)} chunks hold {text!r}"
    return holding[0]


# ---------------------------------------------------------------- offsets


def test_every_chunk_text_is_its_span_of_the_file(chunked, corpus_text):
    _, chunks, _ = chunked
    assert len(chunks) >= 10
    for chunk in chunks:
        assert chunk.path == CORPUS_NAME
        assert corpus_text[chunk.start : chunk.end] == chunk.text


def test_every_unit_text_is_its_span_of_the_file_inside_its_chunk(chunked, corpus_text):
    _, chunks, units = chunked
    by_id = {chunk.chunk_id: chunk for chunk in chunks}
    assert len(units) >= len(chunks)
    for unit in units:
        assert corpus_text[unit.start : unit.end] == unit.text
        chunk = by_id[unit.chunk_id]
        assert chunk.start <= unit.start < unit.end <= chunk.end


def test_unit_ids_are_their_positions(chunked):
    _, _, units = chunked
    assert [unit.unit_id for unit in units] == list(range(len(units)))


def test_chunks_stay_inside_their_documents_and_in_file_order(chunked):
    corpus, chunks, _ = chunked
    documents = {d.doc_id: d for d in corpus.documents}
    for chunk in chunks:
        document = documents[chunk.doc_id]
        assert document.start <= chunk.start < chunk.end <= document.end
        assert chunk.title == document.title
    starts = [chunk.start for chunk in chunks]
    assert starts == sorted(starts)
    assert {chunk.doc_id for chunk in chunks} == {"innovation-in-action", "opd-vacancy"}


def test_chunks_and_units_neither_start_nor_end_with_space_or_bullet(chunked):
    _, chunks, units = chunked
    for record in [*chunks, *units]:
        assert record.text, record
        for edge in (record.text[0], record.text[-1]):
            assert not edge.isspace(), repr(record.text)
            assert edge != "\u2022", repr(record.text)


# ---------------------------------------------------------------- stable ids


def test_chunk_ids_are_the_same_when_chunking_twice(chunked):
    _, chunks, _ = chunked
    again, _ = chunk_corpus(load_corpus(CORPUS_DIR), MAX_CHARS)
    assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]


def test_chunk_ids_are_unique(chunked):
    _, chunks, _ = chunked
    assert len({chunk.chunk_id for chunk in chunks}) == len(chunks)


def test_chunk_ids_survive_appending_an_unrelated_document(chunked, tmp_path):
    _, chunks, _ = chunked
    folder = tmp_path / "corpus"
    shutil.copytree(CORPUS_DIR, folder)
    with (folder / CORPUS_NAME).open("a", encoding="utf-8", newline="") as handle:
        handle.write("\n\nCanteen opening hours\n\nThe canteen opens at eight every weekday.\n")
    meta = json.loads((folder / META_NAME).read_text(encoding="utf-8"))
    meta["documents"].append(
        {"doc_id": "canteen", "title": "Canteen opening hours", "starts_with": "Canteen opening hours"}
    )
    (folder / META_NAME).write_text(json.dumps(meta), encoding="utf-8")

    appended, _ = chunk_corpus(load_corpus(folder), MAX_CHARS)

    old_ids = [chunk.chunk_id for chunk in chunks]
    assert [chunk.chunk_id for chunk in appended[: len(chunks)]] == old_ids
    new_chunks = appended[len(chunks) :]
    # The heading opens the chunk of the paragraph under it.
    assert [chunk.doc_id for chunk in new_chunks] == ["canteen"]
    assert new_chunks[0].text.startswith("Canteen opening hours\n\nThe canteen opens")
    assert not {chunk.chunk_id for chunk in new_chunks} & set(old_ids)


def test_chunk_id_changes_when_its_text_changes(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Notes\n\nThe first plan was approved.\n\nA second plan.\n", encoding="utf-8")
    before, _ = chunk_corpus(load_corpus(tmp_path), MAX_CHARS)
    path.write_text("Notes\n\nThe first plan was rejected.\n\nA second plan.\n", encoding="utf-8")
    after, _ = chunk_corpus(load_corpus(tmp_path), MAX_CHARS)

    assert before[0].chunk_id != after[0].chunk_id
    assert before[1].chunk_id == after[1].chunk_id  # same text at the same position


# ---------------------------------------------------------------- structure


def test_list_chunk_keeps_lead_in_announcing_sentence_and_all_items(chunked):
    _, chunks, _ = chunked
    chunk = _chunk_holding(chunks, "The importance of:")

    assert chunk.kind == "list"
    assert chunk.text.startswith(ANNOUNCING_SENTENCE)
    for item in LIST_ITEMS:
        assert item in chunk.text
    # The items are not also scattered over chunks of their own.
    for item in LIST_ITEMS:
        assert _chunk_holding(chunks, item) == chunk


def test_list_items_are_units_of_their_own_after_their_lead_ins(chunked):
    _, chunks, units = chunked
    chunk = _chunk_holding(chunks, "The importance of:")
    chunk_units = [unit for unit in units if unit.chunk_id == chunk.chunk_id]

    # One chunk holds the announcing sentence, the lead-in and the items: a list question is
    # answered from one chunk, and each item can be cited on its own.
    assert [unit.kind for unit in chunk_units] == ["sentence", "sentence"] + ["item"] * len(LIST_ITEMS)
    assert chunk_units[0].text.startswith(ANNOUNCING_SENTENCE)
    assert chunk_units[1].text == "The importance of:"
    for unit, item in zip(chunk_units[2:], LIST_ITEMS):
        assert item in unit.text and len(unit.text) <= len(item) + 1


def test_vacancy_chunks_fall_under_the_vacancy_heading(chunked):
    _, chunks, _ = chunked
    vacancy = [chunk for chunk in chunks if chunk.doc_id == "opd-vacancy"]
    report = [chunk for chunk in chunks if chunk.doc_id == "innovation-in-action"]

    assert len(vacancy) >= 5
    assert {chunk.section for chunk in vacancy} == {VACANCY_HEADING}
    assert VACANCY_HEADING not in {chunk.section for chunk in report}
    assert _chunk_holding(chunks, "Clive House, London").section == VACANCY_HEADING


def test_headings_open_the_chunk_under_them_and_are_heading_units(chunked):
    _, chunks, units = chunked
    map_chunk = _chunk_holding(chunks, "Map of the PD pilots")
    assert map_chunk.text.startswith("Map of the PD pilots\n\nThe ‘Innovation in Action’ report highlights")
    assert not [chunk for chunk in chunks if chunk.kind == "heading"]
    headings = [unit.text for unit in units if unit.kind == "heading"]
    assert "Map of the PD pilots" in headings
    assert VACANCY_HEADING in headings
    assert _chunk_holding(chunks, "Dr Rex Haigh").section.startswith("Innovation in Action: Review")


def test_sentence_is_not_split_after_dr(chunked):
    _, _, units = chunked
    (unit,) = [unit for unit in units if "Lisa Wilson" in unit.text]
    assert "Dr Rex Haigh" in unit.text
    assert unit.text.endswith("in 2004.")
    for unit in units:
        assert not unit.text.rstrip(".").endswith((" Dr", " Mr")), unit.text


def test_split_sentences_keeps_titles_with_their_names():
    text = "The panel was chaired by Dr. Ann Lee and Mr. Tom Cole. It met in May. Prof. Ray spoke."
    sentences = [text[start:end] for start, end in split_sentences(text)]
    assert sentences == [
        "The panel was chaired by Dr. Ann Lee and Mr. Tom Cole.",
        "It met in May.",
        "Prof. Ray spoke.",
    ]


def test_split_sentences_offsets_are_shifted():
    text = "One thing. Two things."
    assert split_sentences(text, offset=100) == [(100, 110), (111, 122)]


def test_markdown_lead_in_with_short_bullets_is_one_list_chunk(tmp_path):
    text = (
        "# Ward handbook\n\n"
        "The ward opened in spring. Staff rotate weekly.\n\n"
        "Key points:\n"
        "- visiting is daily\n"
        "- meals are shared\n"
        "- groups meet on Mondays\n\n"
        "Questions go to the ward manager.\n"
    )
    (tmp_path / "handbook.md").write_text(text, encoding="utf-8")

    chunks, units = chunk_corpus(load_corpus(tmp_path), MAX_CHARS)

    lists = [chunk for chunk in chunks if chunk.kind == "list"]
    assert len(lists) == 1
    (chunk,) = lists
    assert chunk.text == "Key points:\n- visiting is daily\n- meals are shared\n- groups meet on Mondays"
    assert chunk.section == "Ward handbook"
    for item in ("visiting is daily", "meals are shared", "groups meet on Mondays"):
        assert _chunk_holding(chunks, item) == chunk
    assert [u.text for u in units if u.kind == "heading"] == ["Ward handbook"]
    assert [u.text for u in units if u.chunk_id == chunk.chunk_id] == [
        "Key points:", "visiting is daily", "meals are shared", "groups meet on Mondays"]
    assert [u.kind for u in units if u.chunk_id == chunk.chunk_id] == ["sentence", "item", "item", "item"]


def test_long_paragraph_is_split_at_sentences_within_max_chars(tmp_path):
    sentences = [
        f"Clinic number {i} reported steady progress with its weekly group sessions this year."
        for i in range(30)
    ]
    paragraph = " ".join(sentences)
    text = "Clinic reports\n\n" + paragraph + "\n"
    (tmp_path / "clinics.txt").write_text(text, encoding="utf-8")
    max_chars = 300
    assert len(paragraph) > 5 * max_chars

    chunks, _ = chunk_corpus(load_corpus(tmp_path), max_chars)

    pieces = chunks
    assert len(pieces) >= 5
    assert pieces[0].text.startswith("Clinic reports\n\nClinic number 0 ")  # the heading opens it
    for piece in pieces:
        assert len(piece.text) <= max_chars
        assert text[piece.start : piece.end] == piece.text
        assert piece is pieces[0] or piece.text.startswith("Clinic number ")
        assert piece.text.endswith("this year.")
    # Nothing lost, nothing repeated: the pieces rejoin into the heading and paragraph.
    assert " ".join(piece.text for piece in pieces) == "Clinic reports\n\n" + paragraph


# ---------------------------------------------------------------- linear time


def _run_on_paragraph(repeats: int) -> tuple[float, int]:
    """Seconds to split one paragraph (no blank line) of ``repeats`` × 84 characters, and its sentences."""
    sentence = "Dr. Lee met the e.g. team on Jan. 3 and the cost rose 3.5% in no. 4 of the pilots. "
    text = sentence * repeats
    started = time.process_time()  # CPU time: other processes on a shared machine do not count
    spans = split_sentences(text)
    return time.process_time() - started, len(spans)


def test_splitting_a_long_paragraph_takes_linear_time():
    # 200 KB against 2 MB of the same kind: a ratio, so the bound holds on a slow machine; the
    # best of three runs each, so a busy machine does not fail it.
    # The quadratic splitter took about 100 times as long for 10 times the text.
    small_s, small_count = min(_run_on_paragraph(2_400) for _ in range(3))
    large_s, large_count = min(_run_on_paragraph(24_000) for _ in range(3))
    assert small_count == 2 * 2_400  # "Jan. 3" ends a sentence; "Dr.", "e.g.", "no." and "3.5" do not
    assert large_count == 10 * small_count
    assert large_s <= 15 * small_s, (small_s, large_s)


def test_chunking_a_2_mb_single_paragraph_file_finishes(tmp_path):
    sentence = "The pilot site reported on its work with Mr. Cole this year. "
    (tmp_path / "long.txt").write_text("Long report\n\n" + sentence * (2_000_000 // len(sentence)), encoding="utf-8")
    started = time.perf_counter()
    chunks, units = chunk_corpus(load_corpus(tmp_path), MAX_CHARS)
    assert time.perf_counter() - started < 60
    assert len(units) == 2_000_000 // len(sentence) + 1  # one unit per sentence, plus the heading
    assert all(len(chunk.text) <= MAX_CHARS for chunk in chunks)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ask Dr. Ray now. Then go.", ["Ask Dr. Ray now.", "Then go."]),
        # "xprof" is longer than any abbreviation although its last four letters are one.
        ("It was xprof. Then go.", ["It was xprof.", "Then go."]),
        ("It was prof\n. Then go.", ["It was prof\n. Then go."]),
        ("e.g. Ann. Then go.", ["e.g. Ann.", "Then go."]),
        ("Items i.e. Two were sold. Three.", ["Items i.e. Two were sold.", "Three."]),
        ("Dr. A", ["Dr. A"]),
    ],
)
def test_abbreviation_check_looks_at_the_whole_word_before_the_stop(text, expected):
    assert [text[s:e] for s, e in split_sentences(text)] == expected


# ---------------------------------------------------------------- properties (hypothesis)

# Characters of the bundled corpus plus what real files bring: curly quotes, NBSP, emoji,
# right-to-left script, CRLF, form feeds, other line separators, bullets and abbreviations.
_PIECES = sorted(set((CORPUS_DIR / CORPUS_NAME).read_text(encoding="utf-8"))) + [
    "‘", "’", "“", "”", "\u00a0", "😀", "שלום", "مرحبا", "\r\n", "\n\n", "\f", "\u2028", "\x85",
    "\t", "Dr.", "e.g.", "i.e.", "Jan. 2019", "3.5%", ". ", "? ", "! ", ":\n- ", "\n• ", "\n1) ",
    "# ", "The pilot", " Services", "x" * 300,
]
_TEXTS = st.lists(st.sampled_from(_PIECES), max_size=400).map("".join)


def _chunk_text(text: str, max_chars: int):
    document = DocumentInfo(doc_id="d", title="T", path="d.txt", start=0, end=len(text))
    chunks = chunk_document(text, document, max_chars)
    units = [unit for chunk in chunks for unit in units_of(chunk)]
    return chunks, units


@given(text=_TEXTS, max_chars=st.sampled_from([200, 1000]))
@hypothesis_settings(max_examples=150, deadline=None)
def test_chunks_and_units_are_exact_spans_of_any_text(text, max_chars):
    chunks, units = _chunk_text(text, max_chars)
    by_id = {chunk.chunk_id: chunk for chunk in chunks}
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text.strip()
    for unit in units:
        assert text[unit.start : unit.end] == unit.text
        chunk = by_id[unit.chunk_id]
        assert chunk.start <= unit.start < unit.end <= chunk.end
    again, again_units = _chunk_text(text, max_chars)
    assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]
    assert again_units == units


def _is_abbreviation_searching_everything(text: str, dot: int) -> bool:
    """The abbreviation check as first written (quadratic over a paragraph): the reference."""
    word = re.search(r"([\w.]+)$", text[:dot])
    return bool(word) and text[dot] == "." and word.group(1).lower() in ABBREVIATIONS


@given(text=st.lists(st.sampled_from(["Dr", "prof", "xprof", "e.g", "i.e", "No", ".", " ", "\n", "a", "_", "é"]), max_size=40).map("".join))
@hypothesis_settings(max_examples=300, deadline=None)
def test_bounded_abbreviation_check_agrees_with_searching_everything(text):
    for dot in (i for i, char in enumerate(text) if char == "."):
        assert _is_abbreviation(text, dot) == _is_abbreviation_searching_everything(text, dot), (text, dot)


# ---------------------------------------------------------------- units of real report layouts
# Documents generated in the test (tests/documents.py), each laid out as a report's maker prints
# one behaviour; what the chunker makes of the reader's text is checked here.


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """``layout(name)``: (stored text, chunks, units) of a corpus holding one generated document."""
    root = tmp_path_factory.mktemp("layouts")
    font = docs.bullet_font(root / "SymbolBullets.ttf")
    makers = {
        "page_break.pdf": docs.make_page_break_pdf,
        "bullets.pdf": lambda path: docs.make_bullets_pdf(path, font),
        "footnotes.pdf": docs.make_footnotes_pdf,
        "table.pdf": docs.make_table_pdf,
        "table.docx": docs.make_table_docx,
        "table.html": docs.make_table_html,
        "front.pdf": docs.make_front_matter_pdf,
        "folios_cover.pdf": lambda path: docs.make_numbered_pages_pdf(path, cover=True),
        "folios_agree.pdf": lambda path: docs.make_numbered_pages_pdf(path, cover=False),
        "numbered.docx": docs.make_numbered_docx,
    }
    made = {}

    def get(name: str):
        if name not in made:
            folder = root / name.replace(".", "_")
            folder.mkdir()
            makers[name](folder / name)
            corpus = load_corpus(folder)
            chunks, units = chunk_corpus(corpus, MAX_CHARS)
            made[name] = (corpus.file(name).text, chunks, units)
        return made[name]

    return get


def _unit(units, text: str):
    found = [unit for unit in units if unit.text == text]
    assert len(found) == 1, f"{len(found)} units read {text!r}"
    return found[0]


def _spans_hold(text: str, chunks, units) -> None:
    for record in [*chunks, *units]:
        assert text[record.start : record.end] == record.text


def test_sentence_running_over_page_breaks_is_one_unit_on_the_page_it_starts(layout):
    text, chunks, units = layout("page_break.pdf")
    _spans_hold(text, chunks, units)
    first = _unit(units, docs.BREAK_SENTENCE_1)  # pages 1 and 2
    second = _unit(units, docs.BREAK_SENTENCE_2)  # pages 2 and 3, "commis-" / "sioning" joined
    assert (first.kind, first.page) == ("sentence", 1)
    assert (second.kind, second.page) == ("sentence", 2)
    assert first.chunk_id == second.chunk_id  # one paragraph, one chunk
    assert _unit(units, docs.BREAK_AFTER).page == 3


def test_pdf_bullets_are_item_units_after_their_lead_in(layout):
    text, chunks, units = layout("bullets.pdf")
    _spans_hold(text, chunks, units)
    items = [unit for unit in units if unit.kind == "item"]
    assert [unit.text for unit in items] == [item for _, item in (*docs.BULLET_ITEMS, docs.BULLET_LONG_ITEM)]
    lead_in = _unit(units, docs.BULLET_LEAD_IN)
    assert lead_in.kind == "sentence"
    # The short items travel with their lead-in (a list question is answered from one chunk); the
    # long one, a paragraph in itself, is a list chunk of its own.
    assert {unit.chunk_id for unit in items[:-1]} == {lead_in.chunk_id}
    by_id = {chunk.chunk_id: chunk for chunk in chunks}
    assert {by_id[unit.chunk_id].kind for unit in items} == {"list"}
    assert _unit(units, docs.BULLET_AFTER).kind == "sentence"


def test_footnote_is_a_unit_of_its_own_and_never_inside_a_sentence(layout):
    text, chunks, units = layout("footnotes.pdf")
    _spans_hold(text, chunks, units)
    note = f"\u2079 {docs.FOOTNOTE_TEXT}"
    assert [(unit.text, unit.page) for unit in units if unit.kind == "footnote"] == [(note, 1)]
    assert [c.kind for c in chunks if note in c.text] == ["footnote"]
    assert not [unit for unit in units if unit.kind == "sentence" and "Northumberland" in unit.text]
    # "(N. Tyneside)" does not end the sentence; the superscript stays with "Tyneside".
    assert _unit(units, docs.FOOTNOTE_SENTENCE).kind == "sentence"
    running = next(unit for unit in units if unit.text.startswith("It had a waiting list"))
    assert running.text.endswith("while " + docs.FOOTNOTE_BODY_PAGE2)


def test_an_initial_in_brackets_does_not_end_a_sentence():
    text = "Referrals came from the north east (N. Tyneside) and from Cumbria. The service closed in 2010."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "Referrals came from the north east (N. Tyneside) and from Cumbria.", "The service closed in 2010."]


@pytest.mark.parametrize("name", ["table.pdf", "table.docx", "table.html"])
def test_table_rows_are_row_units_under_their_caption(layout, name):
    text, chunks, units = layout(name)
    _spans_hold(text, chunks, units)
    rows = [unit for unit in units if unit.kind == "row"]
    assert [unit.text for unit in rows] == list(docs.TABLE_ROW_TEXTS)
    by_id = {chunk.chunk_id: chunk for chunk in chunks}
    assert {(by_id[u.chunk_id].kind, by_id[u.chunk_id].section) for u in rows} == {("table", docs.TABLE_CAPTION)}
    assert _unit(units, docs.TABLE_CAPTION).kind == "heading"
    # The caption heads its table only: the text after the table is under the section again.
    assert by_id[_unit(units, docs.TABLE_AFTER).chunk_id].section == "Referrals"
    # A figure in a row is quoted from its exact offsets, with the row it belongs to.
    row = _unit(units, "Area: North Tyneside; 2015: 31; 2016: 40")
    citation = cite(1, row, by_id[row.chunk_id])
    assert text[citation.start : citation.end] == citation.quote == row.text
    at = citation.start + citation.quote.index("2016: 40") + len("2016: ")
    assert text[at : at + 2] == "40"
    assert citation.page == (1 if name.endswith(".pdf") else None)


def test_title_page_is_one_citable_unit(layout):
    text, chunks, units = layout("front.pdf")
    _spans_hold(text, chunks, units)
    fronts = [chunk for chunk in chunks if chunk.kind == "front"]
    assert len(fronts) == 1
    (front_units,) = [[u for u in units if u.chunk_id == chunk.chunk_id] for chunk in fronts]
    assert len(front_units) == 1
    assert front_units[0].text == "\n".join((docs.COVER_TITLE, docs.COVER_SUBTITLE, docs.COVER_AUTHORS, docs.COVER_DATE))
    assert front_units[0].page == 1
    assert {chunk.title for chunk in chunks} == {docs.COVER_TITLE}


def test_units_after_an_unnumbered_cover_carry_the_printed_page_label(layout):
    _, chunks, units = layout("folios_cover.pdf")
    by_id = {chunk.chunk_id: chunk for chunk in chunks}
    for number, sentence in enumerate(docs.LABELLED_SENTENCES, start=1):
        unit = _unit(units, sentence)
        assert (unit.page, unit.page_label) == (number + 1, str(number))
        citation = cite(1, unit, by_id[unit.chunk_id])
        assert (citation.page, citation.page_label) == (number + 1, str(number))
    assert {unit.page_label for unit in units if unit.page == 1} == {None}  # the cover has no number


def test_units_carry_no_page_label_when_printed_numbers_agree_with_pages(layout):
    _, chunks, units = layout("folios_agree.pdf")
    assert _unit(units, docs.LABELLED_SENTENCES[1]).page == 2
    assert {record.page_label for record in [*chunks, *units]} == {None}


def test_word_numbered_list_paragraphs_are_item_units(layout):
    text, chunks, units = layout("numbered.docx")
    _spans_hold(text, chunks, units)
    items = [unit for unit in units if unit.kind == "item"]
    assert [unit.text for unit in items] == list(docs.NUMBERED_ITEMS)
    by_id = {chunk.chunk_id: chunk for chunk in chunks}
    assert {by_id[unit.chunk_id].section for unit in items} == {"2.2 Board Membership"}
    assert _unit(units, docs.NUMBERED_LEAD_IN).chunk_id == items[0].chunk_id
    assert [u.text for u in units if u.kind == "heading"][1:] == list(docs.NUMBERED_HEADINGS_PRINTED)


def test_lettered_list_lines_are_items_in_markdown(tmp_path):
    text = ("# Duties\n\nThe chair must:\n(a) call the meetings;\n(b) sign the minutes; and\n(iv) report to the trust.\n\n"
            "A deputy stands in (b) when the chair is away.\n")
    (tmp_path / "duties.md").write_text(text, encoding="utf-8")
    chunks, units = chunk_corpus(load_corpus(tmp_path), MAX_CHARS)
    _spans_hold(text, chunks, units)
    assert [(u.kind, u.text) for u in units if u.kind in ("item", "sentence")] == [
        ("sentence", "The chair must:"), ("item", "call the meetings;"), ("item", "sign the minutes; and"),
        ("item", "report to the trust."), ("sentence", "A deputy stands in (b) when the chair is away.")]


@pytest.fixture(scope="module")
def layouts_qa(tmp_path_factory):
    """A QA over a corpus of the table PDF and the PDF numbered after its cover."""
    from pdqa.qa import QA, build
    from pdqa.settings import Settings

    root = tmp_path_factory.mktemp("layouts_qa")
    (root / "corpus").mkdir()
    docs.make_table_pdf(root / "corpus" / "referrals.pdf")
    docs.make_numbered_pages_pdf(root / "corpus" / "chapters.pdf", cover=True)
    settings = Settings(corpus={"dir": root / "corpus"}, index={"dir": root / "index"}, answer={"min_confidence": 0.0})
    build(settings)
    qa = QA(settings)
    yield qa, root / "corpus"
    qa.close()


def test_a_table_figure_is_quoted_and_cited_from_the_index(layouts_qa):
    qa, corpus = layouts_qa
    answer = qa.ask("How many referrals were there in North Tyneside in 2016?")
    assert not answer.abstained
    citation = answer.citations[0]
    stored = read_document(corpus / "referrals.pdf").text
    assert (citation.path, citation.quote, citation.section) == (
        "referrals.pdf", "Area: North Tyneside; 2015: 31; 2016: 40", docs.TABLE_CAPTION)
    assert stored[citation.start : citation.end] == citation.quote
    assert (citation.page, citation.page_label) == (1, None)


def test_a_citation_from_the_index_gives_the_printed_page_label(layouts_qa):
    qa, _ = layouts_qa
    answer = qa.ask("How were the pilots chosen?")
    assert not answer.abstained
    citation = answer.citations[0]
    assert citation.path == "chapters.pdf"
    assert docs.LABELLED_SENTENCES[0] in citation.quote
    assert (citation.page, citation.page_label) == (2, "1")

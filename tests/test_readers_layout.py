"""Layout read as printed: bullets drawn as shapes, lists punctuated with semicolons, tables on
pages turned by /Rotate, tables without a header row, tables drawn on some rows only, banner
lines at the same place on every page (PDF), and Word's numbered outline (DOCX).

Each test builds the document that shows the fault (fpdf2, python-docx), as a browser's print,
Word or a design program writes it, and checks the text a person reads from the page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pdqa.readers import read_document

pytest.importorskip("fpdf")

DOT_LEAD_IN = "The project helped care homes to:"
DOT_ITEMS = (
    "comply with the national data security toolkit",
    "use remote and acoustic monitoring tools",
    "share care records with GP practices",
)
DOT_AFTER = "Most homes now use digital care records."
LEGEND_LABELS = ("Nursing care", "Residential care")

ROTATED_ROWS = (("Area", "2015", "2016"), ("Crawley", "12", "14"), ("Leeds", "27", "35"), ("Hull", "5", "9"))


def _make_drawn_bullets_pdf(path: Path) -> Path:
    """A list whose bullets are filled dots drawn before each item (no bullet character in the
    text layer, as a browser prints an HTML list), and a chart legend whose keys are squares as
    large as their labels."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    y = 100
    pdf.text(72, y, DOT_LEAD_IN)
    for item in DOT_ITEMS:
        y += 20
        pdf.ellipse(80, y - 6, 4, 4, style="F")  # 4 pt across on 11 pt text, at the x-height
        pdf.text(92, y, item)
    y += 30
    pdf.text(72, y, DOT_AFTER)
    y += 30
    for label in LEGEND_LABELS:
        pdf.rect(72, y - 9, 10, 10, style="F")
        pdf.text(88, y, label)
        y += 16
    pdf.output(str(path))
    return path


def _make_rotated_table_pdf(path: Path) -> Path:
    """A ruled table on a portrait page drawn turned a quarter, with /Rotate 90 so a viewer
    shows it upright on a landscape page (Word's landscape section)."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    with pdf.rotation(angle=90, x=297, y=421):
        pdf.set_xy(150, 300)
        with pdf.table(col_widths=(120, 60, 60), width=240, align="LEFT") as table:
            for cells in ROTATED_ROWS:
                row = table.row()
                for cell in cells:
                    row.cell(cell)
    drawn = path.with_name(path.stem + "-unturned.pdf")
    pdf.output(str(drawn))
    document = pdfium.PdfDocument(str(drawn))
    try:
        document[0].set_rotation(90)
        document.save(str(path))
    finally:
        document.close()
    return path


def _assert_list(path: Path, lead_in: str, items, after: str) -> list[str]:
    """The document's lines, checked: each of ``items`` a list item, its lead-in and the paragraph
    after the list plain lines."""
    lines = read_document(path).text.splitlines()
    for item in items:
        assert f"\u2022 {item}" in lines, item
    assert lead_in in lines and after in lines
    return lines


def test_pdf_bullets_drawn_as_dots_become_list_items(tmp_path):
    # No dot before the lead-in and the paragraph after: they are no items.
    lines = _assert_list(_make_drawn_bullets_pdf(tmp_path / "dots.pdf"), DOT_LEAD_IN, DOT_ITEMS, DOT_AFTER)
    # A legend key is a shape before a label too, but as large as its text: not a bullet.
    for label in LEGEND_LABELS:
        assert label in lines and f"\u2022 {label}" not in lines


def test_pdf_table_on_a_page_turned_by_rotate_reads_as_rows(tmp_path):
    path = _make_rotated_table_pdf(tmp_path / "turned.pdf")
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        assert document[0].get_rotation() == 90  # the fault: grid and text drawn turned
    finally:
        document.close()
    extracted = read_document(path)
    expected = "\n".join(f"Area: {area}; 2015: {a}; 2016: {b}" for area, a, b in ROTATED_ROWS[1:])
    assert expected in extracted.text
    start = extracted.text.index(expected)
    assert (start, start + len(expected), "table") in extracted.regions


HEADERLESS_ROWS = (
    ("Spring 2024", "The partnership agreed its priorities for the fund."),
    ("Summer 2024", "Budgets and evaluation criteria were developed with the partners."),
    ("Autumn 2024", "The contract was awarded and work on raising awareness began."),
)


def _make_headerless_table_pdf(path: Path) -> Path:
    """A ruled table without a header row: every row a bold label and regular text, set alike."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 14, "The fund was set up in three stages.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    with pdf.table(col_widths=(90, 330), width=420, align="LEFT", first_row_as_headings=False) as table:
        for label, text in HEADERLESS_ROWS:
            row = table.row()
            row.cell(label, style=FontFace(emphasis="BOLD"))
            row.cell(text)
    pdf.output(str(path))
    return path


def test_pdf_table_whose_first_row_is_set_like_the_rest_has_no_header(tmp_path):
    text = read_document(_make_headerless_table_pdf(tmp_path / "headerless.pdf")).text
    lines = text.splitlines()
    # The first row is a row of its own, and names no column of the others.
    for label, cell in HEADERLESS_ROWS:
        assert f"{label}; {cell}" in lines, label
    assert "Spring 2024:" not in text


def _make_numbered_outline_docx(path: Path) -> Path:
    """Word's multi-level numbering ("%1", "%1.%2") where the document opens with a second-level
    heading (printed "1.1", no "1" before it), then a first-level one (printed "2"), and a
    numbered paragraph of the Normal style set wholly in bold (a numbered subheading, "2.1")."""
    from docx import Document
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn

    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    document = Document()
    numbering = document.part.numbering_part.element
    levels = "".join(f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="{text}"/></w:lvl>'
                     for i, text in enumerate(("%1", "%1.%2")))
    abstract = parse_xml(f'<w:abstractNum {w} w:abstractNumId="70">{levels}</w:abstractNum>')
    first_num = numbering.find(qn("w:num"))
    if first_num is not None:
        first_num.addprevious(abstract)  # abstractNum elements come before num elements
    else:
        numbering.append(abstract)
    numbering.append(parse_xml(f'<w:num {w} w:numId="70"><w:abstractNumId w:val="70"/></w:num>'))

    def numbered(paragraph, level: int):
        paragraph._p.get_or_add_pPr().append(
            parse_xml(f'<w:numPr {w}><w:ilvl w:val="{level}"/><w:numId w:val="70"/></w:numPr>'))
        return paragraph

    numbered(document.add_heading("Background", level=2), 1)
    document.add_paragraph("The board was set up in 2022.")
    numbered(document.add_heading("Composition", level=1), 0)
    subheading = numbered(document.add_paragraph(), 1)
    subheading.add_run("Board Membership").bold = True
    document.add_paragraph("The board has twelve members.")
    document.save(str(path))
    return path


def test_docx_numbering_counts_levels_begun_by_a_deeper_level_and_bold_numbered_lines_are_headings(tmp_path):
    lines = read_document(_make_numbered_outline_docx(tmp_path / "outline.docx")).text.splitlines()
    headings = [line for line in lines if line.startswith("#")]
    assert headings == ["# 1.1 Background", "# 2 Composition", "# 2.1 Board Membership"]
    assert "The board has twelve members." in lines


BANNER = ("UK", "Covid-19", "Inquiry")
BANNER_BODY = (
    "The first response to the pandemic was marked by a lack of urgency.",
    "Testing capacity was too limited to follow the spread of the virus.",
    "The devolved administrations relied on the UK government to lead.",
    "Restrictions introduced sooner would have been shorter.",
)


def _make_banner_pdf(path: Path) -> Path:
    """Four pages under a logo of three stacked lines, printed at the same place on every page:
    its third line is further from the page's edge than a running header's first two lines."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    for sentence in BANNER_BODY:
        pdf.add_page()
        pdf.set_font("Helvetica", style="B", size=11)
        for i, word in enumerate(BANNER):
            pdf.text(40, 40 + 13 * i, word)
        pdf.set_font("Helvetica", size=11)
        pdf.text(72, 140, sentence)
        # Enough prose that the first page is a page of text, not a cover (which keeps its lines).
        for i in range(12):
            pdf.text(72, 170 + 15 * i, f"Paragraph line {i + 1} of the findings sets out what the inquiry heard from witnesses.")
    pdf.output(str(path))
    return path


def test_pdf_line_printed_at_the_same_place_on_every_page_is_a_running_line(tmp_path):
    text = read_document(_make_banner_pdf(tmp_path / "banner.pdf")).text
    lines = text.splitlines()
    for sentence in BANNER_BODY:
        assert sentence in lines
    for word in BANNER:
        assert word not in lines and f"# {word}" not in lines, word


ALIGNED_CAPTION = "Number of clients by service type, 2015 to 2016"
ALIGNED_ROWS = (("Home care", "1,200", "1,150"), ("Residential care", "2,985", "2,890"), ("Nursing care", "1,985", "1,835"))
ALIGNED_AFTER = "The number of clients fell in both years."


def _right(pdf, right_edge: float, y: float, text: str) -> None:
    """Text set flush right against ``right_edge`` (figures in a column)."""
    pdf.text(right_edge - pdf.get_string_width(text), y, text)


def _shaded_header_page(columns, names, size: int):
    """A page with the caption and a header drawn as shaded cells, its corner over the row labels
    empty (``names`` over the other columns)."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=size)
    pdf.text(72, 100, ALIGNED_CAPTION)
    pdf.set_fill_color(200, 200, 200)
    for x0, x1 in columns:
        pdf.rect(x0, 110, x1 - x0, 16, style="F")
    for (x0, x1), name in zip(columns[1:], names):
        _right(pdf, x1 - 4, 122, name)
    return pdf


def _make_shaded_header_table_pdf(path: Path) -> Path:
    """A header row drawn as shaded cells over rows of figures that are only ruled under, not
    boxed: the columns go on as the figures' alignment."""
    columns = ((72, 250), (250, 320), (320, 390))
    pdf = _shaded_header_page(columns, ("2015", "2016"), 10)
    y = 142
    for label, *figures in ALIGNED_ROWS:
        pdf.text(76, y, label)
        for (x0, x1), figure in zip(columns[1:], figures):
            _right(pdf, x1 - 4, y, figure)
        pdf.line(72, y + 6, 390, y + 6)
        y += 20
    pdf.text(72, y + 30, ALIGNED_AFTER)
    pdf.text(295, 800, "7")
    pdf.output(str(path))
    return path


BANDED_GROUPS = (
    ("Age", (("25-44 years", "2", "20"), ("45-64 years", "4", "24")), True),
    ("Ethnicity", (("White British", "7", "41"), ("Other White", "1", "8")), False),
)


def _make_banded_table_pdf(path: Path) -> Path:
    """A table whose only drawn cells are the shaded bands of some row groups: its header (two
    lines, "Female" over "(n=7)") stands between plain rules above the first band, and the
    unshaded groups are plain lines in the same columns."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    columns = ((100, 300), (300, 370), (370, 440))
    pdf.set_font("Helvetica", style="B", size=9)
    pdf.line(100, 90, 440, 90)
    _right(pdf, 366, 102, "Female")
    _right(pdf, 436, 102, "Male")
    pdf.text(104, 113, "Characteristic")
    _right(pdf, 366, 113, "(n=7)")
    _right(pdf, 436, 113, "(n=53)")
    pdf.line(100, 117, 440, 117)
    y = 118
    pdf.set_fill_color(225, 225, 225)
    for label, rows, shaded in BANDED_GROUPS:
        for cells in [(label, "", ""), *rows]:
            if shaded:
                for x0, x1 in columns:
                    pdf.rect(x0, y, x1 - x0, 16, style="F")
            pdf.set_font("Helvetica", style="B" if cells[0] == label else "", size=9)
            pdf.text(104 if cells[0] == label else 112, y + 11, cells[0])
            for (x0, x1), figure in zip(columns[1:], cells[1:]):
                if figure:
                    _right(pdf, x1 - 4, y + 11, figure)
            y += 16
    pdf.line(100, y + 1, 440, y + 1)
    pdf.set_font("Helvetica", size=10)
    pdf.text(72, y + 40, ALIGNED_AFTER)
    pdf.output(str(path))
    return path


def test_pdf_rows_aligned_under_a_drawn_header_are_rows_of_its_table(tmp_path):
    extracted = read_document(_make_shaded_header_table_pdf(tmp_path / "shaded_header.pdf"))
    text = extracted.text
    rows = "\n".join(f"{label}; 2015: {a}; 2016: {b}" for label, a, b in ALIGNED_ROWS)
    assert rows in text
    start = text.index(rows)
    assert (start, start + len(rows), "table") in extracted.regions
    # The caption above and the paragraph below run across the columns: they are no rows.
    lines = text.splitlines()
    assert ALIGNED_CAPTION in lines and ALIGNED_AFTER in lines
    assert "7" not in lines  # the page number under the table is neither a row nor text


def test_pdf_table_of_shaded_bands_and_plain_rows_is_one_table_under_its_header(tmp_path):
    text = read_document(_make_banded_table_pdf(tmp_path / "banded.pdf")).text
    lines = text.splitlines()
    for label, rows, _ in BANDED_GROUPS:
        assert f"Characteristic: {label}" in lines, label
        for name, female, male in rows:
            assert f"Characteristic: {label}, {name}; Female (n=7): {female}; Male (n=53): {male}" in lines, name
    assert ALIGNED_AFTER in lines


SEMICOLON_LEAD_IN = "They cover:"
SEMICOLON_ITEMS = (
    "the operational workings of the scientific advisory group;",
    "the extension of the socio-economic duty within the Equality Act 2010 and the use of child rights impact assessments in every nation;",
    "and establishing structures to improve communication between the four governments.",
)
SEMICOLON_AFTER = "I emphasise that other aspects of the response are addressed in other modules of the inquiry, which report later."


def _make_semicolon_list_pdf(path: Path) -> Path:
    """A list printed without bullets, one item a line or two, each ending with ";" and the
    last with a full stop after "and", under a lead-in ending with ":"."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(400, 14, "In all, I make nineteen recommendations that will better safeguard the country in a future pandemic.")
    pdf.ln(10)
    pdf.multi_cell(400, 14, SEMICOLON_LEAD_IN)
    for item in SEMICOLON_ITEMS:
        pdf.multi_cell(400, 14, item)  # the second item wraps over two lines
    pdf.ln(10)
    pdf.multi_cell(400, 14, SEMICOLON_AFTER)
    pdf.output(str(path))
    return path


def test_pdf_semicolon_items_under_a_lead_in_are_list_items(tmp_path):
    _assert_list(_make_semicolon_list_pdf(tmp_path / "semicolons.pdf"), SEMICOLON_LEAD_IN, SEMICOLON_ITEMS, SEMICOLON_AFTER)


BOXED_HEADER = ("Barrier to recruitment", "Count")
BOXED_ROWS = (("Specific technical skills", "34"), ("Pay scales", "26"), ("Banding restrictions", "24"))


def _make_one_boxed_row_pdf(path: Path) -> Path:
    """A table of plain rows under a bold header line in which only one row is boxed (the other
    rules too faint or too short to be found): that row is set like the rows around it, so it is
    one of them, not a header drawn alone with every line above it folded into that header."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.text(72, 100, ALIGNED_CAPTION)
    columns = ((72, 250), (250, 390))
    pdf.set_font("Helvetica", style="B", size=10)
    for (x0, _), text in zip(columns, BOXED_HEADER):
        pdf.text(x0 + 4, 122, text)
    pdf.set_font("Helvetica", size=10)
    y = 142
    for number, row in enumerate(BOXED_ROWS):
        for (x0, _), text in zip(columns, row):
            pdf.text(x0 + 4, y, text)
        if number == 1:
            for x0, x1 in columns:
                pdf.rect(x0, y - 12, x1 - x0, 18)
        y += 20
    pdf.text(72, y + 30, ALIGNED_AFTER)
    pdf.output(str(path))
    return path


def test_pdf_a_row_boxed_alone_among_plain_rows_is_a_row_not_a_header(tmp_path):
    lines = read_document(_make_one_boxed_row_pdf(tmp_path / "one_boxed.pdf")).text.splitlines()
    for label, count in BOXED_ROWS:
        assert f"{BOXED_HEADER[0]}: {label}; {BOXED_HEADER[1]}: {count}" in lines, (label, lines)


WRAPPED_ROWS = (
    (("In supported accommodation (e.g., hostel,", "refuge)"), ("4", "13"), 0),  # figures level with the first line
    (("In unsupported accommodation (e.g., B&B,", "hotel)"), ("2", "13"), 6),  # figures between the two lines
    (("Rough sleeping",), ("1", "4"), 0),
)


def _make_wrapped_label_table_pdf(path: Path) -> Path:
    """A shaded header over unruled rows whose labels wrap onto a second line, the figures set
    level with the first line or with the middle of the two."""
    columns = ((72, 280), (280, 340), (340, 400))
    pdf = _shaded_header_page(columns, ("Female", "Male"), 9)
    y = 142
    for label_lines, figures, drop in WRAPPED_ROWS:
        for number, line in enumerate(label_lines):
            pdf.text(76, y + 11 * number, line)
        for (x0, x1), figure in zip(columns[1:], figures):
            if figure:
                _right(pdf, x1 - 4, y + drop, figure)
        y += 11 * len(label_lines) + 9
    pdf.text(72, y + 30, ALIGNED_AFTER)
    pdf.output(str(path))
    return path


def test_pdf_a_wrapped_row_label_is_one_row_with_its_figures(tmp_path):
    lines = read_document(_make_wrapped_label_table_pdf(tmp_path / "wrapped.pdf")).text.splitlines()
    assert "In supported accommodation (e.g., hostel, refuge); Female: 4; Male: 13" in lines, lines
    assert "In unsupported accommodation (e.g., B&B, hotel); Female: 2; Male: 13" in lines, lines
    assert "Rough sleeping; Female: 1; Male: 4" in lines, lines
    assert not any(line.startswith(("refuge)", "hotel)")) for line in lines)


# ---------------------------------------------------------------- sentences whole, furniture out (PDF)
# Each document below cuts a sentence the way a real report's layout does, or prints furniture
# where a running line stands; the reader keeps the sentence whole and the furniture out.

BOLD_LEAD_LINES = ("Improving consideration of the impact that decisions might have on those most at risk",
                   "in an emergency:", " changes should aim to identify any risks to vulnerable groups.")
BOLD_LEAD_SENTENCE = ("Improving consideration of the impact that decisions might have on those most at risk "
                      "in an emergency: changes should aim to identify any risks to vulnerable groups.")


def _make_wrapped_bold_lead_pdf(path: Path) -> Path:
    """A paragraph led by a bold phrase that wraps: the first line wholly bold, the second bold up
    to a colon and then plain, as a boxed list of recommendations prints it."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.text(72, 100, "The recommendations include:")
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.text(72, 130, BOLD_LEAD_LINES[0])
    pdf.text(72, 143, BOLD_LEAD_LINES[1])
    width = pdf.get_string_width(BOLD_LEAD_LINES[1])
    pdf.set_font("Helvetica", size=10)
    pdf.text(72 + width, 143, BOLD_LEAD_LINES[2])
    pdf.text(72, 180, "The Chair expects that recommendations are acted upon.")
    pdf.output(str(path))
    return path


def test_pdf_a_wrapped_bold_lead_phrase_reads_with_its_sentence(tmp_path):
    text = read_document(_make_wrapped_bold_lead_pdf(tmp_path / "bold_lead.pdf")).text
    assert BOLD_LEAD_SENTENCE in text.splitlines(), text
    assert "# " not in text, text


LINK_LINES = (("The rapid review into data on mental health inpatient settings: final report", 11),
              ("(https://www.gov.uk/government/publications/rapid-review-into-data) was published on 28", 10),
              ("June 2023, and the government accepted each of its recommendations.", 11))


def _make_link_in_smaller_type_pdf(path: Path) -> Path:
    """A sentence whose printed link is set a point smaller than its words, at the paragraph's
    own line pitch (a browser's print of a page with a link), then a paragraph after a gap."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    y = 100
    for text, size in LINK_LINES:
        pdf.set_font("Helvetica", size=size)
        pdf.text(72, y, text)
        y += 14
    pdf.set_font("Helvetica", size=11)
    for text in ("Anyone receiving treatment in an inpatient mental health facility deserves", "to receive safe care."):
        y += 14
        pdf.text(72, y, text)
    pdf.output(str(path))
    return path


def test_pdf_a_link_set_smaller_runs_on_in_its_sentence(tmp_path):
    lines = read_document(_make_link_in_smaller_type_pdf(tmp_path / "link.pdf")).text.splitlines()
    assert " ".join(text for text, _ in LINK_LINES) in lines, lines
    assert "Anyone receiving treatment in an inpatient mental health facility deserves to receive safe care." in lines, lines


WRAP_LINES = ("Some 11,300 people joined the services in the 2011 calendar year, and 19,200 left, in the",
              "UK overall, while the number of veterans in the county fell for the third year in a row.")
WRAP_COLUMN = ("The profile of veterans will change in the medium term, with many more elderly veterans",
               "who served in the Second World War and in National Service, and a rise in the share of",
               "younger veterans, while the number aged between 65 and 74 years falls by almost a half.")


def _make_column_beside_box_pdf(path: Path) -> Path:
    """A column of prose beside a text box that reaches past the column's right edge (a chart's
    note, a pull-out): a line of the column wraps before a capitalised word ("in the" / "UK overall")."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    right = 72 + max(pdf.get_string_width(line) for line in WRAP_LINES + WRAP_COLUMN)
    y = 100
    for line in WRAP_COLUMN:
        pdf.text(72, y, line)
        y += 14
    y += 14
    for line in WRAP_LINES:
        pdf.text(72, y, line)
        y += 14
    for number, note in enumerate(("Projected change", "in veterans", "by age group")):
        pdf.text(right - 20, y + 40 + 14 * number, note)  # a box whose lines reach 60 pt past the column
    pdf.output(str(path))
    return path


def test_pdf_a_line_wraps_at_its_column_edge_not_at_a_box_beside_it(tmp_path):
    lines = read_document(_make_column_beside_box_pdf(tmp_path / "column.pdf")).text.splitlines()
    assert " ".join(WRAP_LINES) in lines, lines


PULL_PROSE = ("Alternatively the grading system could indicate the risk associated",
              "with individual triggers, with some posing a higher risk than others, and",
              "a colour coding system could be designed with high risk triggers being")
PULL_QUOTE = ("'If they look at the parameters for a cafe, are they treating a small cafe",
              "the same as a big cafe?' (sole trader, using the trial software)")


def _make_pull_quote_pdf(path: Path) -> Path:
    """A column of prose whose last line on the page ends mid-sentence, and a pull quote printed
    higher up and further left, written after the prose (as a word processor writes a text box)."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    y = 400
    for line in PULL_PROSE:
        pdf.text(108, y, line)
        y += 13
    for number, line in enumerate(PULL_QUOTE):
        pdf.text(80, 200 + 13 * number, line)
    pdf.output(str(path))
    return path


def test_pdf_a_pull_quote_up_and_left_is_not_run_into_the_sentence_before_it(tmp_path):
    lines = read_document(_make_pull_quote_pdf(tmp_path / "pull_quote.pdf")).text.splitlines()
    assert " ".join(PULL_PROSE) in lines, lines
    assert " ".join(PULL_QUOTE) in lines, lines


CUT_LINES = ("In total the auditing team counted fifteen cases where financial burdens were described as",
             "the main driver. One older man had become destitute because of his unwillingness to apply",
             "for housing and income support, which he had never claimed in his working life, and his")
CUT_REST = "physical health had deteriorated in recent years."
CUT_SENTENCE = ("One older man had become destitute because of his unwillingness to apply for housing and income "
                "support, which he had never claimed in his working life, and his physical health had deteriorated "
                "in recent years.")
CUT_CAPITAL = ("This section sets out the government's response to the rapid review, taking each recommendation",
               "in turn, as agreed with NHS England, the devolved administrations, local councils and the Care")
CUT_CAPITAL_REST = "Quality Commission (CQC), the regulator of health and social care in England."
CUT_AFTER = ("A separate review of the services is planned for next year, when the",
             "teams will have completed their first full year of the new model of",
             "care, and its findings will be published in the spring.")


def _make_sentence_cut_by_page_pdf(path: Path) -> Path:
    """Two sentences left open at the foot of a page and run on at the top of the next: one in lower
    case, with a chart's labels (smaller) and a pull quote (closed) written after it on its page;
    one whose next word is capitalised ("the Care" / "Quality Commission"), the last line full."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    for lines, rest, extras in ((CUT_LINES, CUT_REST, True), (CUT_CAPITAL, CUT_CAPITAL_REST, False)):
        pdf.add_page()
        pdf.set_font("Helvetica", size=10)
        pdf.text(72, 660, "The audit covered every death recorded by the coroner in the three years.")
        y = 700
        for line in lines:
            pdf.text(72, y, line)
            y += 13
        if extras:
            pdf.set_font("Helvetica", size=7)
            pdf.text(100, 760, "Suicides in the three years")  # a chart's labels, below the text
            pdf.text(320, 800, "Those who had a West Sussex post code, N=185")
            pdf.set_font("Helvetica", size=10)
            pdf.text(60, 120, "'It's the money that does it, in the end.' (a coroner's officer)")
        pdf.add_page()
        pdf.set_font("Helvetica", size=10)
        pdf.text(72, 80, rest)
        for number, line in enumerate(CUT_AFTER):
            pdf.text(72, 110 + 13 * number, line)
    pdf.output(str(path))
    return path


def test_pdf_a_sentence_cut_by_a_page_break_reads_whole(tmp_path):
    lines = read_document(_make_sentence_cut_by_page_pdf(tmp_path / "cut.pdf")).text.splitlines()
    assert any(CUT_SENTENCE in line for line in lines), lines
    assert any(" ".join(CUT_CAPITAL + (CUT_CAPITAL_REST,)) in line for line in lines), lines
    assert not any("N=185" in line and "physical health" in line for line in lines), lines
    assert " ".join(CUT_AFTER) in lines, lines


def _make_line_beside_footer_pdf(path: Path) -> Path:
    """A running header and footer ("3 | Commissioning policy") on every page, and on the last
    page a line printed once at the other end of the footer's line (a back cover's copyright
    line) and one beside the header (a briefing's number)."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    for number, filler in enumerate(FILLER_PARAGRAPHS, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=9)
        if number == len(FILLER_PARAGRAPHS):  # written first, as the back cover's own text
            pdf.text(380, 810, "(c) NHS England 2023 | PR2086")
            pdf.text(40, 42, "Number CBP 10081")  # level with the running header: the page's own
        pdf.set_font("Helvetica", size=11)
        pdf.set_xy(72, 100)
        pdf.multi_cell(450, 14, filler)
        pdf.set_font("Helvetica", size=9)
        pdf.text(40, 812, f"{number} | Commissioning policy")
        pdf.text(300, 40, "Individual funding requests")
    pdf.output(str(path))
    return path


FILLER_PARAGRAPHS = (
    "The pilot services were set up in eleven areas of England in 2004.",
    "Each service agreed its own model of care with its commissioners.",
    "The review team visited every service twice, in the first year and the last.",
    "This publication can be made available in alternative formats on request.",
)


SECOND_PAGE = (
    "Members were asked what had helped them most in their groups.",
    "The costs of each service were set against the use of hospital beds.",
    "Most members named the reliability of the staff and the other members.",
    "A separate evaluation of the peer workers is planned for next year.",
)


def test_pdf_a_line_level_with_the_running_footer_is_furniture(tmp_path):
    text = read_document(_make_line_beside_footer_pdf(tmp_path / "footer.pdf")).text
    assert "PR2086" not in text and "4 | Commissioning policy" not in text, text
    assert "Number CBP 10081" in text, text  # at the head, a line printed once is the page's own
    assert all(filler in text for filler in FILLER_PARAGRAPHS), text


NOTE_TEXT = "1 July 2009 to 30 June 2010, the most recent year the prison could report."
NOTE_LINES = ("The average waiting time to see a general practitioner or a nurse in the most recent",
              "year was one day, and most prisoners were seen on the day they asked, or within")
NOTE_REST = "a day of asking, by the nurse who ran the morning clinic."


def _make_footnote_one_size_down_pdf(path: Path) -> Path:
    """A footnote set one size down (10 pt on 11 pt, as a word processor sets one), its number
    raised, at the foot of a page whose last sentence runs on to the next page."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for number, filler in enumerate(FILLER_PARAGRAPHS):
        pdf.text(72, 100 + 20 * number, filler)
    y = 720
    for line in NOTE_LINES:
        pdf.text(72, y, line)
        y += 15
    pdf.set_font("Helvetica", size=6)
    pdf.text(72, 797.8, "7")  # raised 2.2 pt: a superscript, on the note's line
    pdf.set_font("Helvetica", size=10)
    pdf.text(75.5, 800, " " + NOTE_TEXT)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.text(72, 80, NOTE_REST)
    for number, filler in enumerate(SECOND_PAGE):
        pdf.text(72, 110 + 20 * number, filler)
    pdf.output(str(path))
    return path


def test_pdf_a_footnote_set_one_size_down_is_a_footnote_after_the_sentence_running_on(tmp_path):
    extracted = read_document(_make_footnote_one_size_down_pdf(tmp_path / "note.pdf"))
    paragraphs = [p for p in extracted.text.split("\n\n") if p.strip()]
    running = " ".join(NOTE_LINES + (NOTE_REST,))
    note = "\u2077 " + NOTE_TEXT
    assert running in paragraphs and note in paragraphs, paragraphs
    assert paragraphs.index(note) == paragraphs.index(running) + 1, paragraphs
    start = extracted.text.index(note)
    assert (start, start + len(note), "footnote") in extracted.regions


BOX_LINES = ("In West Sussex, our aims are that plans must include the voice and the involvement of",
             "people with lived experience, and a key priority of the partnership is to co-produce")
BOX_REST = "initiatives with people who have lived and living experience of drug and alcohol harm."


def _make_box_beside_open_sentence_pdf(path: Path) -> Path:
    """A sentence left open at a page's foot, and a box written after it higher up and further
    right, its title set a size larger (a poem beside the text), then the sentence running on."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    for number, filler in enumerate(FILLER_PARAGRAPHS):
        pdf.text(48, 100 + 20 * number, filler)
    y = 760
    for line in BOX_LINES:
        pdf.text(48, y, line)
        y += 14
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.text(54, 300, "One & All")
    pdf.set_font("Helvetica", size=9)
    for number, line in enumerate(("Like the first ray of sunshine on a brand-new day", "The community fund came our way.")):
        pdf.text(54, 326 + 16 * number, line)
    pdf.add_page()
    pdf.text(48, 80, BOX_REST)
    for number, filler in enumerate(SECOND_PAGE):
        pdf.text(48, 110 + 20 * number, filler)
    pdf.output(str(path))
    return path


def test_pdf_a_box_titled_in_another_size_is_not_run_into_the_sentence_beside_it(tmp_path):
    lines = read_document(_make_box_beside_open_sentence_pdf(tmp_path / "box.pdf")).text.splitlines()
    assert " ".join(BOX_LINES + (BOX_REST,)) in lines, lines


BRACKET_LINES = ("Co-occurrence of physical health and substance misuse issues (n=40) or physical health",
                 "and mental health issues was recorded for most of the older individuals reviewed (n=36)")
BRACKET_REST = "and was slightly more common than in the younger age groups."


def _make_bracket_at_page_end_pdf(path: Path) -> Path:
    """A sentence whose last line on the page ends with a bracketed count, a chart's labels
    written after it, and the sentence running on in lower case on the next page."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for number, filler in enumerate(FILLER_PARAGRAPHS):
        pdf.text(36, 100 + 20 * number, filler)
    y = 760
    for line in BRACKET_LINES:
        pdf.text(36, y, line)
        y += 14
    pdf.set_font("Helvetica", size=9)
    pdf.text(70, 400, "0% 10% 20% 30% 40% 50%")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.text(36, 80, BRACKET_REST)
    for number, filler in enumerate(SECOND_PAGE):
        pdf.text(36, 110 + 20 * number, filler)
    pdf.output(str(path))
    return path


def test_pdf_a_sentence_ending_its_page_in_a_bracket_runs_on(tmp_path):
    lines = read_document(_make_bracket_at_page_end_pdf(tmp_path / "bracket.pdf")).text.splitlines()
    assert " ".join(BRACKET_LINES + (BRACKET_REST,)) in lines, lines

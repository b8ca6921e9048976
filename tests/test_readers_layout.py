"""Layout read as printed: bullets drawn as shapes, lists punctuated with semicolons, tables on
pages turned by /Rotate, tables without a header row, tables drawn on some rows only, banner
lines at the same place on every page, headings set apart by an underline, a bold bullet or a
drawn box, and bold labels that are no headings (a grid's cells, a chart's axis titles) (PDF),
and Word's numbered outline (DOCX).

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


# ---------------------------------------------------------------- headings set apart as printed (PDF)

BODY = ("Another area of concern was around data that is considered sensitive, particularly data linked to "
        "issues such as mental health or substance misuse, which participants discussed at length.")
UNDERLINED_SUBHEADING = "Sensitivity of data"
UNDERLINED_LINK = "Read the full terms of reference for the review"
APPENDIX_NUMBER = "APPENDIX 3"
APPENDIX_TITLE = "ANALYSIS OF NEW STARTERS IN RESIDENTIAL CARE"


def _make_underlined_headings_pdf(path: Path) -> Path:
    """Subheadings set in the body's font and size, marked only by an underline (as Word prints
    them); a link's text standing alone, underlined because it is a link; and an underlined
    appendix number over the appendix's title, both set large."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", style="BU", size=14)
    pdf.cell(400, 18, APPENDIX_NUMBER, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(400, 18, APPENDIX_TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    for _ in range(3):
        pdf.set_font("Helvetica", style="U", size=11)
        pdf.cell(400, 14, UNDERLINED_SUBHEADING, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(6)
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(400, 14, BODY)
        pdf.ln(10)
    pdf.set_font("Helvetica", style="U", size=11)
    pdf.cell(400, 14, UNDERLINED_LINK, new_x="LMARGIN", new_y="NEXT", link="https://www.gov.uk/terms-of-reference")
    pdf.ln(10)
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(400, 14, BODY)
    pdf.output(str(path))
    return path


def test_pdf_an_underlined_line_standing_alone_is_a_heading_and_a_link_is_not(tmp_path):
    lines = read_document(_make_underlined_headings_pdf(tmp_path / "underlined.pdf")).text.splitlines()
    assert lines.count(f"# {UNDERLINED_SUBHEADING}") == 3, lines
    assert UNDERLINED_LINK in lines, lines
    # The underlined number is a heading of its own, not the first line of the title under it.
    assert f"# {APPENDIX_NUMBER}" in lines and f"# {APPENDIX_TITLE}" in lines, lines


GRID_INTRO = "Participants in the workforce exercise"
GRID_ENTRIES = (
    (("The NHS Health Informatics Service",), ("Robert Birkett, Director of Digital", "Julian Bates, Assistant Director")),
    (("Imperial College Healthcare NHS", "Trust"), ("Deirdre Lyons, Consultant",)),
    (("Health Education England",), ("James Freed, Chief Information Officer",)),
    (("Bolton NHS Foundation Trust",), ("David Mills, Deputy Chief Officer",)),
)
GRID_HEADER = ("Our goals", "What we mean")
GRID_ROW = ("People at the end of life", "Care plans are shared between services.")


def _make_unruled_grids_pdf(path: Path) -> Path:
    """A page of two grids laid out without rules: organisations' names in bold over their people,
    two to a row, written column by column; and a two-column table whose bold header cells stand
    on one baseline, written row by row (pdfium reads them as one line). A bold subheading and a
    bold numbered heading with a tab after its number stand alone on their lines."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.text(72, 80, GRID_INTRO)
    pdf.set_font("Helvetica", size=11)
    pdf.text(72, 100, "We thank the following digital leads who took part in the exercise.")
    for column, x in enumerate((78, 300)):
        y = 130
        for entry in GRID_ENTRIES[column::2]:
            names, people = entry
            pdf.set_font("Helvetica", style="B", size=11)
            for name in names:
                pdf.text(x, y, name)
                y += 14
            pdf.set_font("Helvetica", size=11)
            for person in people:
                pdf.text(x, y, person)
                y += 14
            y = 130 + 90 * (GRID_ENTRIES[column::2].index(entry) + 1)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.text(72, 360, "2.1")
    pdf.text(120, 360, "Methods")
    pdf.set_font("Helvetica", size=11)
    pdf.text(72, 380, "The goals were set with people living with dementia and their carers.")
    pdf.set_font("Helvetica", style="B", size=11)
    for x, text in zip((72, 300), GRID_HEADER):
        pdf.text(x, 420, text)
    pdf.set_font("Helvetica", size=11)
    for x, text in zip((72, 300), GRID_ROW):
        pdf.text(x, 436, text)
    pdf.output(str(path))
    return path


def test_pdf_bold_labels_side_by_side_in_a_grid_are_not_headings(tmp_path):
    text = read_document(_make_unruled_grids_pdf(tmp_path / "grids.pdf")).text
    lines = text.splitlines()
    headings = [line for line in lines if line.startswith("# ")]
    assert headings == [f"# {GRID_INTRO}", "# 2.1 Methods"], headings
    for names, people in GRID_ENTRIES:
        assert " ".join(names) in text and people[0] in text


CHART_LABELS = ("IMD 2015 (West Sussex quintiles)", "Suicides in 3yr period")


def _make_chart_labels_pdf(path: Path) -> Path:
    """A chart drawn under a paragraph, its axis titles set in bold and smaller than the body (7 pt
    on 10 pt), each alone on its line; a bold subheading in the body's size above the chart."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.text(72, 80, "Deprivation")
    pdf.set_font("Helvetica", size=10)
    y = 100
    for _ in range(4):
        pdf.text(72, y, "Post code analysis shows that a higher than expected proportion of the suicides in this")
        y += 14
    pdf.rect(100, 180, 300, 150)
    pdf.set_font("Helvetica", size=7)
    pdf.text(150, 345, "1      2      3      4      5")
    pdf.set_font("Helvetica", style="B", size=7)
    pdf.text(180, 360, CHART_LABELS[0])
    pdf.text(180, 380, CHART_LABELS[1])
    pdf.set_font("Helvetica", size=10)
    y = 420
    for _ in range(4):
        pdf.text(72, y, "Throughout the audit, debt and financial difficulties were believed to be drivers in")
        y += 14
    pdf.output(str(path))
    return path


def test_pdf_small_bold_chart_labels_are_not_headings(tmp_path):
    text = read_document(_make_chart_labels_pdf(tmp_path / "chart.pdf")).text
    headings = [line for line in text.splitlines() if line.startswith("# ")]
    assert headings == ["# Deprivation"], headings
    for label in CHART_LABELS:
        assert label in text


PROJECTS = ("Carers Support", "Path of Recovery")
PROJECT_TEXT = ("Sustained group to support those who care for friends and family with substance dependence "
                "issues; the grant funds prevented its closure.")
BOLD_ITEMS = ("Develop practical skills", "Improve your confidence", "Communicate with others")


def _bullet(pdf, y: float, text: str) -> None:
    pdf.ellipse(80, y - 6, 4, 4, style="F")
    pdf.text(92, y, text)


def _make_bold_bullet_subheadings_pdf(path: Path) -> Path:
    """Projects' names set as bold bullets, each alone over the paragraph that tells of it; and a
    list of bold items, bullets one after another."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    y = 80
    for project in PROJECTS:
        pdf.set_font("Helvetica", style="B", size=10)
        _bullet(pdf, y, project)
        pdf.set_font("Helvetica", size=10)
        pdf.set_xy(72, y + 12)
        pdf.multi_cell(420, 14, PROJECT_TEXT)
        y += 80
    pdf.text(72, y, "Respondents were asked whether the programme had helped them to:")
    pdf.set_font("Helvetica", style="B", size=10)
    for item in BOLD_ITEMS:
        y += 18
        _bullet(pdf, y, item)
    pdf.set_font("Helvetica", size=10)
    pdf.text(72, y + 30, "All respondents gave positive answers to these.")
    pdf.output(str(path))
    return path


def test_pdf_a_bold_bullet_alone_over_its_paragraph_is_a_subheading(tmp_path):
    lines = read_document(_make_bold_bullet_subheadings_pdf(tmp_path / "bullets.pdf")).text.splitlines()
    for project in PROJECTS:
        assert f"# {project}" in lines, lines
    assert lines.count(PROJECT_TEXT) == 2, lines
    for item in BOLD_ITEMS:  # bullets one after another are a list, bold or not
        assert f"\u2022 {item}" in lines, lines


BOX_TITLE = "Key points"
BOX_POINTS = ("One in three individuals were classed as economically inactive.",
              "Ten individuals were known to be homeless or of no fixed abode.")
BOX_QUOTE = ("\"Each one that cropped up, I clicked through to see", "the detail of it and decide whether the figures",
             "were right or whether I had made a mistake.\"")
CHART_TITLE = "Average tenure by organisation"


def _make_titled_box_pdf(path: Path) -> Path:
    """A panel drawn as a box whose first line, set like the body, names it over bullet points; a
    box holding a quotation over three lines; and a chart's frame, its title far above the bars."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.text(72, 70, "The deaths were reviewed with the coroner's files for each individual in the audit.")
    pdf.rect(62, 90, 470, 90)
    pdf.text(70, 108, BOX_TITLE)
    y = 108
    for point in BOX_POINTS:
        y += 22
        _bullet(pdf, y, point)
    pdf.rect(62, 210, 470, 60)
    for number, line in enumerate(BOX_QUOTE):
        pdf.text(70, 228 + 14 * number, line)
    pdf.rect(62, 300, 470, 200)
    pdf.text(70, 318, CHART_TITLE)
    for number, label in enumerate(("Local", "Regional", "National")):
        pdf.rect(100 + 120 * number, 420, 40, 60, style="F")
        pdf.text(100 + 120 * number, 494, label)
    pdf.output(str(path))
    return path


def test_pdf_the_short_first_line_of_a_drawn_box_is_its_title(tmp_path):
    text = read_document(_make_titled_box_pdf(tmp_path / "box.pdf")).text
    headings = [line for line in text.splitlines() if line.startswith("# ")]
    assert headings == [f"# {BOX_TITLE}"], headings
    assert " ".join(BOX_QUOTE) in text and CHART_TITLE in text


# ---------------------------------------------------------------- tables: invisible boxes, colour keys

LINE_BOXED_HEADER = (("Area",), ("Leicester", "(21)"), ("Liverpool", "(18)"))
LINE_BOXED_ROWS = (("Age: 16-24", "4", "4"), ("Age: 25-39", "7", "6"), ("Age: 40-54", "3", "3"))


def _make_line_boxed_header_pdf(path: Path) -> Path:
    """A ruled table whose shaded header cells paint each line of their text again in a box of
    the cell's own colour, as a word processor does: the boxes draw nothing to be seen, so each
    header cell is one cell of two lines ("Leicester" over "(21)"), not two rows."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.text(72, 100, "Table 1: Sample profile")
    columns = ((72, 220), (220, 305), (305, 390))
    pdf.set_fill_color(4, 30, 66)
    pdf.set_draw_color(0, 0, 0)
    for x0, x1 in columns:
        pdf.rect(x0, 110, x1 - x0, 32, style="DF")
    for (x0, x1), lines in zip(columns, LINE_BOXED_HEADER):
        top = 110 + (32 - 14 * len(lines)) / 2
        for number, line in enumerate(lines):
            pdf.rect(x0 + 5, top + 14 * number, x1 - x0 - 10, 14, style="F")  # the line's own box
    pdf.set_text_color(255, 255, 255)
    pdf.set_font("Helvetica", style="B", size=10)
    for (x0, x1), lines in zip(columns, LINE_BOXED_HEADER):
        top = 110 + (32 - 14 * len(lines)) / 2
        for number, line in enumerate(lines):
            pdf.text(x0 + 6, top + 14 * number + 10, line)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("Helvetica", size=10)
    y = 142
    for row in LINE_BOXED_ROWS:
        for (x0, x1), cell in zip(columns, row):
            pdf.rect(x0, y, x1 - x0, 20)
            pdf.text(x0 + 6, y + 14, cell)
        y += 20
    pdf.text(72, y + 30, "The profile was drawn from the recruitment records.")
    pdf.output(str(path))
    return path


def test_pdf_boxes_painted_in_their_cells_colour_do_not_split_the_cell(tmp_path):
    lines = read_document(_make_line_boxed_header_pdf(tmp_path / "line_boxed.pdf")).text.splitlines()
    for label, a, b in LINE_BOXED_ROWS:
        assert f"Area: {label}; Leicester (21): {a}; Liverpool (18): {b}" in lines, (label, lines)
    assert not any(line.startswith("(21)") or "Leicester: (21)" in line for line in lines), lines


COLOUR_KEY_ROWS = (
    ("The meticulous", "Further information about the risk triggers", (0, 176, 80)),
    ("The responsible", "More overt risk trigger flags within software", (79, 130, 189)),
    ("The cautious", "Further information or advice", (247, 150, 70)),
    ("The time-poor", "Trigger hierarchies to indicate high to low risk", (255, 0, 0)),
)


def _make_colour_key_table_pdf(path: Path) -> Path:
    """A ruled table without a header whose row labels are each shaded a colour of their own (a
    colour key): the first row's colour is one more of the key, not what sets a header apart."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.text(72, 100, "Some recommendations suit particular segments:")
    y = 110
    for label, text, colour in COLOUR_KEY_ROWS:
        pdf.set_fill_color(*colour)
        pdf.rect(72, y, 116, 30, style="DF")
        pdf.rect(188, y, 330, 30)
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.text(76, y + 12, label)
        pdf.set_font("Helvetica", size=10)
        pdf.text(192, y + 12, text)
        y += 30
    pdf.text(72, y + 30, "The segments were drawn from the interviews.")
    pdf.output(str(path))
    return path


def test_pdf_row_labels_shaded_as_a_colour_key_are_rows_not_a_header(tmp_path):
    lines = read_document(_make_colour_key_table_pdf(tmp_path / "colour_key.pdf")).text.splitlines()
    for label, text, _ in COLOUR_KEY_ROWS:
        assert f"{label}; {text}" in lines, (label, lines)


SPANNING_ROWS = (
    ("Section 1: Personal details", ("Demographic details", "Personal history/status")),
    ("Section 2: Information relating to death", ("Events surrounding death",)),
    ("Section 3: Contact with services", ("GP service history", "Links to tier 4 services", "Other services used")),
)
UNRULED_LABELS = (("65-74 years", "73.8%", "21.4%"), ("75-84 years", "55.0%", "31.6%"), ("85+ years", "41.6%", "33.6%"))


def _make_spanning_label_table_pdf(path: Path) -> Path:
    """A ruled table whose labels each span several rows, set level with the middle of their rows
    (no rule under a label but under each of its rows), and below it a table whose label column
    is not ruled between rows though its figure columns are: there each band is a row."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=9)
    pdf.text(72, 90, "Outline of the data collected in the audit:")
    left, middle, right, y = 72, 300, 520, 100
    for label, rows in SPANNING_ROWS:
        height = 14 * len(rows)
        pdf.rect(left, y, middle - left, height)
        pdf.text(left + 4, y + height / 2 + 3, label)
        for number, row in enumerate(rows):
            pdf.rect(middle, y + 14 * number, right - middle, 14)
            pdf.text(middle + 4, y + 14 * number + 10, row)
        y += height
    pdf.text(72, y + 30, "Parts of the audit structure did not suit many cases.")
    y += 60
    columns = ((72, 190), (190, 280), (280, 370))
    for (x0, x1), name in zip(columns, ("Age Group", "0 or 1 LTC", "2/3 LTCs")):
        pdf.rect(x0, y, x1 - x0, 16)
        pdf.text(x0 + 4, y + 11, name)
    y += 16
    for cells in UNRULED_LABELS:
        for (x0, x1), cell in zip(columns, cells):
            pdf.text(x0 + 4, y + 11, cell)
        for x0, x1 in columns[1:]:
            pdf.rect(x0, y, x1 - x0, 16)  # the figures boxed, the labels beside them not ruled apart
        y += 16
    pdf.line(72, y, 190, y)
    for x in (72, 190):
        pdf.line(x, y - 16 * len(UNRULED_LABELS), x, y)
    pdf.text(72, y + 30, "This is a crude grouping by number of conditions.")
    pdf.output(str(path))
    return path


def test_pdf_a_label_spanning_rows_heads_each_of_them(tmp_path):
    lines = read_document(_make_spanning_label_table_pdf(tmp_path / "spanning.pdf")).text.splitlines()
    for label, rows in SPANNING_ROWS:
        for row in rows:
            assert f"{label}; {row}" in lines, (label, row, lines)
    for label, a, b in UNRULED_LABELS:
        assert f"Age Group: {label}; 0 or 1 LTC: {a}; 2/3 LTCs: {b}" in lines, (label, lines)


# ---------------------------------------------------------------- units: a line opening with its heading's words

HEADING_WORDS = "Physical health"
UNDER_HEADING = (
    "The records named many conditions, and most people had more than one of them. " * 12,
    "Physical health issues were recorded for most of the individuals in the review.",
)


def _make_heading_words_pdf(path: Path) -> Path:
    """A heading ("Physical health") over a long paragraph, and a second paragraph (a chunk of
    its own) that opens with the heading's own words ("Physical health issues were …")."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 14, "The review read the case files of sixty people who died while homeless.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.multi_cell(0, 18, HEADING_WORDS, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    pdf.set_font("Helvetica", size=10)
    for paragraph in UNDER_HEADING:
        pdf.multi_cell(0, 14, paragraph.strip(), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(8)
    pdf.output(str(path))
    return path


def test_pdf_a_sentence_opening_with_its_headings_words_is_whole(tmp_path):
    from pdqa.chunking import chunk_corpus
    from pdqa.corpus import load_corpus

    _make_heading_words_pdf(tmp_path / "heading_words.pdf")
    _, units = chunk_corpus(load_corpus(tmp_path), 1000)
    texts = [unit.text for unit in units]
    assert UNDER_HEADING[1] in texts, texts
    assert not any(text.startswith("issues were") for text in texts), texts


# ---------------------------------------------------------------- tables: borders in pieces, rows stacked in one band

PIECED_ROWS = (
    ("Total number of responses (individuals)", "118"),
    ("Total number of unique organisations represented", "90"),
    ("Total number of unique trusts represented", "46"),
)


def _make_pieced_borders_pdf(path: Path) -> Path:
    """A ruled table whose vertical borders are drawn in pieces, a row's side and then its
    padding's, each piece stopping short of the next and of the rules (as a word processor
    exports them): the pieces are one border, the table one grid under its header."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.text(72, 90, "Table 1: Responses to the survey")
    xs = (72, 320, 420)
    heights = [30] + [24] * len(PIECED_ROWS)
    y = 100
    for number, height in enumerate(heights):
        pdf.line(xs[0], y, xs[-1], y)
        for x in xs:  # the side in two pieces, 2.4 pt apart, short of both rules by 0.4 pt
            pdf.line(x, y + 0.4, x, y + 6)
            pdf.line(x, y + 8.4, x, y + height - 0.4)
        cells = ("", "Number of responses") if number == 0 else PIECED_ROWS[number - 1]
        for x, cell in zip(xs, cells):
            if cell:
                pdf.text(x + 4, y + 16, cell)
        y += height
    pdf.line(xs[0], y, xs[-1], y)
    pdf.text(72, y + 30, "All the organisations were represented.")
    pdf.output(str(path))
    return path


def test_pdf_a_border_drawn_in_pieces_is_one_border(tmp_path):
    lines = read_document(_make_pieced_borders_pdf(tmp_path / "pieces.pdf")).text.splitlines()
    for label, count in PIECED_ROWS:
        assert f"{label}; Number of responses: {count}" in lines, (label, lines)


STACKED_ROWS = (("Stroke", "Yes", "Yes"), ("Arthritis", "Yes", "No"))
STACKED_GROUP = ("Cognitive impairment:", (("- mild", "Yes", "Yes"), ("- substantial", "Yes", "No")))


def _make_stacked_rows_pdf(path: Path) -> Path:
    """A ruled table whose last band, drawn as one cell with no borders inside, holds a group's
    label and its rows one under another, their values standing in the columns above."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.text(72, 90, "Conditions and their effects:")
    xs = (72, 300, 400, 500)
    y = 100
    for cells in (("Condition", "Disability", "Death"), *STACKED_ROWS):
        pdf.set_font("Helvetica", style="B" if cells[0] == "Condition" else "", size=10)
        for x0, x1, cell in zip(xs, xs[1:], cells):
            pdf.rect(x0, y, x1 - x0, 20)
            pdf.text(x0 + 4, y + 14, cell)
        y += 20
    label, rows = STACKED_GROUP
    pdf.rect(xs[0], y, xs[-1] - xs[0], 14 * (len(rows) + 1) + 6)
    pdf.text(xs[0] + 4, y + 14, label)
    for number, cells in enumerate(rows, start=1):
        for x0, cell in zip(xs, cells):
            pdf.text(x0 + 4 + (12 if x0 == xs[0] else 0), y + 14 + 14 * number, cell)
    pdf.text(72, y + 80, "Yes means a significantly greater than zero chance.")
    pdf.output(str(path))
    return path


def test_pdf_rows_stacked_in_one_drawn_band_are_rows(tmp_path):
    lines = read_document(_make_stacked_rows_pdf(tmp_path / "stacked.pdf")).text.splitlines()
    for label, a, b in STACKED_ROWS:
        assert f"Condition: {label}; Disability: {a}; Death: {b}" in lines, (label, lines)
    group, rows = STACKED_GROUP
    for label, a, b in rows:
        assert f"Condition: {group}, {label}; Disability: {a}; Death: {b}" in lines, (label, lines)


# ---------------------------------------------------------------- tables: rules only, cut at the columns

RULED_HEADER = (("Safety", "outcome"), ("National data", "sources"), ("Indicators", "developed"))
RULED_ROWS = (
    (("Abuse",), ("Provider", "notifications"), ("Changes in", "reporting")),
    (("Patient", "accident"), ("Incident", "reports"), ("None", "identified")),
)


def _cut_rule(pdf, xs, y) -> None:
    """A rule under a row drawn as a browser prints it: one segment a cell, end to end."""
    for x0, x1 in zip(xs, xs[1:]):
        pdf.line(x0, y, x1, y)


def _cell_lines(pdf, xs, row, top, size, bold=False, part=slice(None)) -> int:
    """Draw the ``part`` of each cell's lines of ``row`` (a tuple of cells, each a tuple of lines)
    at the columns ``xs``, from ``top``, 20 pt apart; return how many lines the tallest cell drew."""
    pdf.set_font("Helvetica", style="B" if bold else "", size=size)
    for x0, cell in zip(xs, row):
        for number, line in enumerate(cell[part]):
            pdf.text(x0 + 1, top + 18 + 20 * number, line)
    return max(len(cell[part]) for cell in row)


def _row_units(header, rows) -> list[str]:
    """The units a table of ``rows`` under ``header`` reads as: "Column header: cell; …"."""
    names = [" ".join(cell) for cell in header]
    return ["; ".join(f"{name}: {' '.join(cell)}" for name, cell in zip(names, row)) for row in rows]


def _make_rules_only_table_pdf(path: Path) -> Path:
    """A table as a browser prints it: no borders, only a rule under the header and under each
    row, each rule drawn as one segment a cell, end to end; large type, the header's words a
    little over a word space apart from the next column's (the cells' padding)."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.text(50, 80, "Poor safety outcomes are set out below.")
    xs = (50, 150, 290, 430)
    _cell_lines(pdf, xs, RULED_HEADER, 100, 18, bold=True)
    y = 148
    _cut_rule(pdf, xs, y)
    for row in RULED_ROWS:
        y += 4 + 20 * _cell_lines(pdf, xs, row, y + 4, 18) + 8
        _cut_rule(pdf, xs, y)
    pdf.set_font("Helvetica", size=14)
    pdf.text(50, y + 40, "The review found gaps in the national data.")
    pdf.output(str(path))
    return path


def test_pdf_a_table_drawn_with_rules_cut_at_its_columns_reads_as_rows(tmp_path):
    lines = read_document(_make_rules_only_table_pdf(tmp_path / "rules_only.pdf")).text.splitlines()
    for unit in _row_units(RULED_HEADER, RULED_ROWS):
        assert unit in lines, (unit, lines)


NUMBERED_ROWS = (("1 (most deprived)", "1,832", "428.2"), ("2", "1,302", "314.2"), ("3", "1,058", "260.3"))


def _make_numbered_rows_pdf(path: Path) -> Path:
    """A ruled table without a header whose row labels are numbers after the first ("1 (most
    deprived)", "2", "3"): a label over a number is no header over a figure."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 14, "Admissions by deprivation decile:", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    with pdf.table(col_widths=(120, 80, 80), width=280, align="LEFT", first_row_as_headings=False) as table:
        for cells in NUMBERED_ROWS:
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.output(str(path))
    return path


def test_pdf_a_row_label_over_numbered_labels_is_no_header(tmp_path):
    lines = read_document(_make_numbered_rows_pdf(tmp_path / "numbered.pdf")).text.splitlines()
    for cells in NUMBERED_ROWS:
        assert "; ".join(cells) in lines, (cells, lines)


CUT_ROWS = (
    (("Abuse",), ("Provider", "notifications"), ("Changes in", "the pattern", "of reporting", "abuse")),
    (("Assault and", "conflict"), ("Incident data", "Service metrics"), ("Rates of", "assaults", "on staff")),
    (("Sexual safety",), ("Service", "metrics"), ("Rate of", "incidents")),
)
CUT_AFTER_LINES = 1  # the second row's lines on the first page; the rest go on to the next


def _make_cut_row_pdf(path: Path) -> Path:
    """A table as a browser prints it (rules cut at the columns, no borders, rows of several
    lines), its second row cut by the page break: the first page ends under that row's first
    line with no rule under it, and the next page repeats the header over the rest of the row."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 16, "A review of the national data on mental health inpatient settings. " * 6)
    xs = (50, 180, 320, 460)

    def header():
        _cell_lines(pdf, xs, RULED_HEADER, 100, 18, bold=True)
        _cut_rule(pdf, xs, 148)

    def lines(row, y, first, end):
        return y + 4 + 20 * _cell_lines(pdf, xs, row, y, 18, part=slice(first, end)) + 8

    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.text(50, 80, "Poor safety outcomes are set out below.")
    header()
    y = lines(CUT_ROWS[0], 152, 0, None)
    _cut_rule(pdf, xs, y)
    lines(CUT_ROWS[1], y + 4, 0, CUT_AFTER_LINES)  # the page ends here, no rule under the row
    pdf.add_page()
    header()
    y = lines(CUT_ROWS[1], 152, CUT_AFTER_LINES, None)
    _cut_rule(pdf, xs, y)
    y = lines(CUT_ROWS[2], y + 4, 0, None)
    _cut_rule(pdf, xs, y)
    pdf.set_font("Helvetica", size=14)
    pdf.text(50, y + 40, "The review found gaps in the national data.")
    pdf.output(str(path))
    return path


def test_pdf_a_table_row_cut_by_a_page_break_is_one_row(tmp_path):
    lines = read_document(_make_cut_row_pdf(tmp_path / "cut_row.pdf")).text.splitlines()
    for unit in _row_units(RULED_HEADER, CUT_ROWS):
        assert unit in lines, (unit, lines)
    assert not any(line.startswith(f"{' '.join(RULED_HEADER[0])}: conflict") for line in lines), lines


EDGE_ROWS = (("Over 65", "7", "9"), ("Under 65", "3", "4"))


def _make_figures_at_column_edge_pdf(path: Path) -> Path:
    """Rows under a shaded header whose figures stand flush against their column's left edge:
    a figure belongs to the column it starts in, not to the label's column it would fit beside."""
    columns = ((72, 200), (200, 300), (300, 400))
    pdf = _shaded_header_page(columns, ("2015", "2016"), 10)
    y = 142
    for label, *figures in EDGE_ROWS:
        pdf.text(76, y, label)
        for (x0, _), figure in zip(columns[1:], figures):
            pdf.text(x0 - 0.5, y, figure)
        y += 20
    pdf.text(72, y + 30, ALIGNED_AFTER)
    pdf.output(str(path))
    return path


def test_pdf_a_figure_flush_against_its_columns_edge_is_in_that_column(tmp_path):
    lines = read_document(_make_figures_at_column_edge_pdf(tmp_path / "edge.pdf")).text.splitlines()
    for label, a, b in EDGE_ROWS:
        assert f"{label}; 2015: {a}; 2016: {b}" in lines, (label, lines)


# --- List items as units of their own (chunking of what the PDF reader marks as items) ---

OPEN_PARAGRAPH = "The review met every agent twice during the year."
OPEN_ITEMS = ("Expenses claimed without receipts", "Drawings taken as salary", "Rental income left out")


def _item_units(path: Path) -> dict[str, str]:
    """Each unit's text and kind, the document read and chunked as an index build does."""
    from pdqa.chunking import chunk_corpus
    from pdqa.corpus import load_corpus

    _, units = chunk_corpus(load_corpus(path.parent), 1000)
    return {unit.text: unit.kind for unit in units}


def _make_open_list_pdf(path: Path) -> Path:
    """Bullets after a paragraph ending with a full stop: no heading and no lead-in before the
    list, so the list's chunk opens with its first item."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.text(72, 100, OPEN_PARAGRAPH)
    y = 130
    for item in OPEN_ITEMS:
        pdf.ellipse(80, y - 6, 4, 4, style="F")
        pdf.text(92, y, item)
        y += 20
    pdf.output(str(path))
    return path


def test_pdf_the_first_item_of_a_list_opening_its_chunk_is_an_item(tmp_path):
    (tmp_path / "docs").mkdir()
    units = _item_units(_make_open_list_pdf(tmp_path / "docs" / "open.pdf"))
    assert units.get(OPEN_PARAGRAPH) == "sentence", units
    for item in OPEN_ITEMS:
        assert units.get(item) == "item", (item, units)


GLUED_ITEMS = (
    ("19. ", "In December 2020, the UK was the first country in the world to approve a vaccine and to "
             "begin a programme of vaccination across all four nations."),
    ("20.", "When the Delta variant emerged in March 2021, all four governments had learned from the "
            "experience of the earlier lockdowns and delayed the planned relaxations."),
    ("vii.", "Any other clinical information relevant to the treatment of this patient that the panel "
             "should know before it meets to consider the request?"),
)
GLUED_AFTER = "The requesting clinician will be told of the outcome of the screening."
GLUED_HEADING, GLUED_HEADING_BODY = ("11.", "Training"), (
    "All members of the screening group must undergo mandatory induction training approved by the "
    "board, refreshed every year so that members keep the skills they need.")


def _make_glued_numbers_pdf(path: Path) -> Path:
    """Numbered paragraphs whose number is set in a column of its own, some with no space after it
    in the text layer ("20.When"), and a bold numbered subheading written the same way ("11.Training")."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.set_xy(72, 90)
    for number, text in GLUED_ITEMS:
        pdf.set_x(72)
        pdf.multi_cell(300, 14, number + text)
        pdf.ln(12)
    pdf.set_x(72)
    pdf.multi_cell(300, 14, GLUED_AFTER)
    pdf.ln(12)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.set_x(72)
    pdf.multi_cell(300, 14, "".join(GLUED_HEADING))
    pdf.ln(12)
    pdf.set_font("Helvetica", size=11)
    pdf.set_x(72)
    pdf.multi_cell(300, 14, GLUED_HEADING_BODY)
    pdf.output(str(path))
    return path


def test_pdf_a_number_run_into_its_first_word_still_numbers_an_item(tmp_path):
    (tmp_path / "docs").mkdir()
    path = _make_glued_numbers_pdf(tmp_path / "docs" / "glued.pdf")
    lines = read_document(path).text.splitlines()
    for number, text in GLUED_ITEMS:
        assert f"{number.strip()} {text}" in lines, lines
    # A bold numbered line standing alone over its paragraph is a heading, not an item.
    assert "# 11. Training" in lines and GLUED_HEADING_BODY in lines and GLUED_AFTER in lines, lines
    units = _item_units(path)
    for _, text in GLUED_ITEMS:
        assert units.get(text) == "item", (text, units)


RUN_ON_LEAD_IN, RUN_ON_ITEMS = "They include:", (
    ("The need for multiple scenario planning.", "The formulation of clear objectives."),  # page 1
    ("The need for better communication with the public.", "The importance of data and of quick and decisive action."),
)
RUN_ON_SEMICOLON_LEAD_IN, RUN_ON_SEMICOLON_ITEMS = "They cover:", (
    "the operational workings of the scientific advisory group;",
    "ensuring that decisions and their implications are better communicated for the public;",  # the page's longest line
    "enabling greater parliamentary scrutiny of the use of emergency powers;",
    "and establishing structures to improve communication between the four governments.",
)
RUN_ON_PROSE = (
    "The inquiry has identified a number of key lessons to inform the response to a future",
    "pandemic. They must be considered when the four governments develop their strategies for",
    "pandemic preparedness, and they are set out below with the evidence the inquiry heard.",
)
RUN_ON_BETWEEN = ("In all, I make nineteen key recommendations that I believe will better safeguard",
                  "the country in any future pandemic.")
RUN_ON_AFTER = "I emphasise that other aspects of the response are addressed in other modules."


def _make_unmarked_list_over_a_page_break_pdf(path: Path) -> Path:
    """A list printed without bullets whose items go on at the top of the next page, then a list
    of items ending with ";" one a line, where the longest line ends with ";" and the next item
    opens with a word too long to have fitted at its end."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    y = 100
    for _ in range(4):  # a page of text, not a title page
        for line in RUN_ON_PROSE:
            pdf.text(72, y, line)
            y += 14
        y += 14
    pdf.text(72, y, RUN_ON_LEAD_IN)
    for item in RUN_ON_ITEMS[0]:
        y += 14
        pdf.text(72, y, item)
    pdf.add_page()
    y = 100
    for item in RUN_ON_ITEMS[1]:
        pdf.text(72, y, item)
        y += 14
    y += 14
    for line in RUN_ON_BETWEEN:  # a paragraph of two lines: no item
        pdf.text(72, y, line)
        y += 14
    y += 14
    pdf.text(72, y, RUN_ON_SEMICOLON_LEAD_IN)
    for item in RUN_ON_SEMICOLON_ITEMS:
        y += 14
        pdf.text(72, y, item)
    pdf.text(72, y + 28, RUN_ON_AFTER)
    pdf.output(str(path))
    return path


def test_pdf_an_unmarked_list_goes_on_over_a_page_break_and_a_line_ending_with_a_semicolon_ends_its_item(tmp_path):
    path = _make_unmarked_list_over_a_page_break_pdf(tmp_path / "run_on.pdf")
    items = [item for page in RUN_ON_ITEMS for item in page]
    lines = _assert_list(path, RUN_ON_LEAD_IN, items, RUN_ON_AFTER)
    _assert_list(path, RUN_ON_SEMICOLON_LEAD_IN, RUN_ON_SEMICOLON_ITEMS, RUN_ON_AFTER)
    assert " ".join(RUN_ON_BETWEEN) in lines


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

"""Test documents made on the spot: a report PDF, an HTML page and a DOCX, with known layout.

Plain ASCII text (the PDF core fonts are Latin-1), laid out the way real documents are: the PDF
holds the short report with a running header, page-number footers, a heading per page, a two-column
page and a word hyphenated at a line end; the HTML page holds a section of its own inside
navigation, a cookie banner and a footer; the DOCX a section of its own under Title and Heading
styles.
"""

from __future__ import annotations

from pathlib import Path

TITLE = "Innovation in Action"
RUNNING_HEADER = "Innovation in Action - Review of the Community PD Pilots"
AUTHORS = (
    "The Innovation in Action report, written by Dr Lisa Wilson and Dr Rex Haigh, presents a summary "
    "of the findings of the review of National Community Personality Disorder Pilots commissioned by "
    "the Department of Health in 2004."
)
# A hyphen at a line end that the PDF reader must join: "therapeu-" / "tic".
AIMS_LINES = (
    "The aim of commissioning these pilots was to identify practice-based evidence on effective therapeu-",
    "tic interventions with individuals experiencing complex emotional needs.",
)
AIMS = "The aim of commissioning these pilots was to identify practice-based evidence on effective therapeutic interventions with individuals experiencing complex emotional needs."
MODELS = (
    "A range of service models and theoretical orientations were implemented by different services, "
    "and no specific model emerged as superior."
)
SAVINGS = "The national pilots have achieved significant results in relation to both human and economic cost savings."
PREVENTION = (
    "There is good evidence amongst the pilots of the prevention of continuing harm and the prevention "
    "of deterioration of conditions."
)
CONTRACT = "An opportunity has arisen for a secondment or fixed term contract initially for 12 months."
LEAD = "The post holder will lead a dynamic NHS team across all four NHS regions."
SECTIONS = ("Aims of the pilots", "Key findings", "Joint Head vacancy")
# The HTML page and the DOCX each hold sections of their own, so that a corpus of all three files
# answers each question from one known file.
HTML_SECTION = "Community meetings"
MEETINGS = "Each pilot held a community meeting every Tuesday morning, open to all members."
VISITS = "Members could visit another pilot service twice a year to share practice."
DOCX_SECTION = "Recommendations"
SUPERVISION = "The review recommends that staff supervision take place every fortnight."
FUNDING = "Commissioners should fund new services for at least three years before judging them."
BOILERPLATE = (
    "We use cookies to improve your experience on our site",
    "Accept all cookies",
    "Home",
    "Publications",
    "Contact us",
    "Copyright 2024 Example Health Trust",
    "Privacy policy",
)
SENTENCES = {
    "pdf": (AUTHORS, AIMS, MODELS, SAVINGS, PREVENTION, CONTRACT, LEAD),
    "html": (MEETINGS, VISITS),
    "docx": (SUPERVISION, FUNDING),
}
HEADINGS = {"pdf": (TITLE, *SECTIONS), "html": (TITLE, HTML_SECTION), "docx": (TITLE, DOCX_SECTION)}


def make_pdf(path: Path) -> Path:
    """Three pages: title and aims (p. 1), findings in two columns (p. 2), the vacancy (p. 3)."""
    from fpdf import FPDF

    class ReportPDF(FPDF):
        def header(self):
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, RUNNING_HEADER, align="C")
            self.ln(14)

        def footer(self):
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 8, str(self.page_no()), align="C")

    pdf = ReportPDF(format="A4")
    pdf.set_title(TITLE)
    pdf.add_page()
    _pdf_heading(pdf, TITLE, 20)
    _pdf_paragraph(pdf, AUTHORS)
    _pdf_heading(pdf, SECTIONS[0], 14)
    _pdf_paragraph(pdf, "\n".join(AIMS_LINES))
    pdf.add_page()
    _pdf_heading(pdf, SECTIONS[1], 14)
    pdf.set_font("Helvetica", size=11)
    with pdf.text_columns(ncols=2, gutter=10, balance=True) as columns:
        for text in (MODELS, PREVENTION + " " + MODELS, SAVINGS):
            with columns.paragraph(bottom_margin=5) as paragraph:
                paragraph.write(text=text)
    pdf.add_page()
    _pdf_heading(pdf, SECTIONS[2], 14)
    _pdf_paragraph(pdf, CONTRACT)
    _pdf_paragraph(pdf, LEAD)
    pdf.output(str(path))
    return path


def _pdf_heading(pdf, text: str, size: int) -> None:
    pdf.set_font("Helvetica", style="B", size=size)
    pdf.multi_cell(0, size * 0.6, text)
    pdf.ln(4)


def _pdf_paragraph(pdf, text: str) -> None:
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, text)
    pdf.ln(5)


def make_scanned_pdf(path: Path) -> Path:
    """A page with a drawing and no text layer, as a scanner makes."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.rect(20, 20, 150, 200, style="F")
    pdf.output(str(path))
    return path


def make_html(path: Path) -> Path:
    """The report as an article inside navigation, a cookie banner and a footer."""
    nav = "".join(f'<li><a href="/{word.lower()}">{word}</a></li>' for word in BOILERPLATE[2:5])
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{TITLE}</title></head>
<body>
<div id="cookie-banner" class="cookie-consent"><p>{BOILERPLATE[0]}.</p><button>{BOILERPLATE[1]}</button></div>
<header><nav class="site-nav"><ul>{nav}</ul></nav></header>
<main><article>
<h1>{TITLE}</h1>
<h2>{HTML_SECTION}</h2>
<p>{MEETINGS}</p>
<p>{VISITS}</p>
</article></main>
<footer><p>{BOILERPLATE[5]}. <a href="/privacy">{BOILERPLATE[6]}</a></p></footer>
</body></html>
"""
    path.write_text(html, encoding="utf-8")
    return path


def make_docx(path: Path) -> Path:
    """The report with a Title paragraph and Heading 1 sections."""
    from docx import Document

    document = Document()
    document.core_properties.title = TITLE
    document.add_heading(TITLE, level=0)
    document.add_heading(DOCX_SECTION, level=1)
    document.add_paragraph(SUPERVISION)
    document.add_paragraph(FUNDING)
    document.save(str(path))
    return path


def make_corpus(folder: Path) -> Path:
    """A corpus folder of report.pdf, page.html, notes.docx and a scanned scan.pdf."""
    folder.mkdir(parents=True, exist_ok=True)
    make_pdf(folder / "report.pdf")
    make_html(folder / "page.html")
    make_docx(folder / "notes.docx")
    make_scanned_pdf(folder / "scan.pdf")
    return folder


# ---------------------------------------------------------------- documents for single reader behaviours
# Each generator below lays out one behaviour of real reports the way their makers print it, with
# running headers and page-number footers where a report has them. The texts are module constants
# so tests compare what the reader makes with what was printed.

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")


class _PagedPDF:
    """An FPDF with a running header (from page ``header_from`` on) and a page-number footer
    (``numbers`` maps a page number to its printed folio, "" for none)."""

    def __new__(cls, header: str = "", numbers=None, header_from: int = 1):
        from fpdf import FPDF

        class Paged(FPDF):
            def header(self):
                if header and self.page_no() >= header_from:
                    self.set_font("Helvetica", size=9)
                    self.cell(0, 8, header, align="C")
                    self.ln(14)

            def footer(self):
                folio = numbers(self.page_no()) if numbers else str(self.page_no())
                if folio:
                    self.set_y(-15)
                    self.set_font("Helvetica", size=9)
                    self.cell(0, 8, folio, align="C")

        pdf = Paged(format="A4")
        pdf.set_auto_page_break(True, margin=20)
        return pdf


# A paragraph continued over two page breaks: the first break falls between words (page 2 opens in
# lower case), the second inside a hyphenated word ("commis-" / "sioning").
BREAK_HEADING = "Growth of the services"
BREAK_PAGE1 = (
    "In the second year of the programme the pilot services were asked to widen the range of support "
    "they offered to people with complex needs, and most of them recruited peer workers who had used the"
)
BREAK_PAGE2 = (
    "services themselves; the peer workers ran groups in the evenings and at weekends, when the teams were "
    "closed, and they kept in touch with members who had left. The teams reported the change to their commis-"
)
BREAK_PAGE3 = "sioning bodies every quarter and asked for the funding to continue."
BREAK_AFTER = "A separate evaluation of the peer workers is planned for next year."
BREAK_SENTENCE_1 = (
    "In the second year of the programme the pilot services were asked to widen the range of support "
    "they offered to people with complex needs, and most of them recruited peer workers who had used the "
    "services themselves; the peer workers ran groups in the evenings and at weekends, when the teams were "
    "closed, and they kept in touch with members who had left."
)
BREAK_SENTENCE_2 = "The teams reported the change to their commissioning bodies every quarter and asked for the funding to continue."


BREAK_FILLER = (
    "The pilot services were set up in eleven areas of England between 2004 and 2005, each run by a "
    "local trust with a team of nurses, psychologists, occupational therapists and support workers. "
    "Members came to the services by referral from their general practitioner, a community mental "
    "health team or the probation service, and most had used several other services before."
)
# Prose of the kind a report's pages hold, each paragraph different, so no two pages end alike
# (lines repeated at the foot of most pages are a running footer, and a reader drops them).
FILLERS = (
    BREAK_FILLER,
    "Each service agreed its own model of care with its commissioners, and the models ranged from "
    "therapeutic communities meeting several days a week to case management by a single key worker, "
    "with most services somewhere between the two.",
    "The review team visited every service twice, once in the first year and once in the last, and "
    "spoke with members, staff, managers and the partner agencies that referred people or received "
    "them when they moved on.",
    "Members were asked what had helped them most, and the answers most often named the other "
    "members of their group, the reliability of the staff, and being able to get help out of hours "
    "without going to an emergency department.",
    "The costs of each service were set against the use its members made of hospital beds, "
    "emergency departments and the criminal justice system in the year before they joined and in "
    "each year after.",
)


def make_page_break_pdf(path: Path) -> Path:
    """Page 1 full of prose, its last paragraph running over pages 2 and 3, then a paragraph of its own."""
    pdf = _PagedPDF(header="Community Services Review")
    pdf.add_page()
    _pdf_heading(pdf, BREAK_HEADING, 14)
    for filler in FILLERS:
        _pdf_paragraph(pdf, filler)
    _pdf_paragraph(pdf, BREAK_PAGE1)
    pdf.add_page()
    _pdf_paragraph(pdf, BREAK_PAGE2)
    pdf.add_page()
    _pdf_paragraph(pdf, BREAK_PAGE3)
    _pdf_paragraph(pdf, BREAK_AFTER)
    pdf.output(str(path))
    return path


# Bullets as Word and InDesign draw them: Unicode glyphs (•, ▪, ●) and the Symbol / Wingdings
# private-use code points U+F0B7 and U+F0A7, each glyph in a symbol font and the item's words in
# the text font beside it. No font installed here maps U+F0B7, so bullet_font() makes one: DejaVu
# Sans with the private-use code points mapped to its bullet glyphs, as the Symbol font maps them.
BULLET_LEAD_IN = "The pilot services offered:"
BULLET_ITEMS = (
    ("\u2022", "weekly therapy groups"),
    ("\u25aa", "crisis support at night"),
    ("\u25cf", "help with housing and benefits"),
    ("\uf0b7", "peer mentoring by former members"),
    ("\uf0a7", "family sessions every month"),
)
BULLET_LONG_ITEM = (
    "\uf0b7",
    "outreach visits to members who had stopped attending, made by two workers together and followed "
    "by a letter confirming what was agreed",
)
BULLET_AFTER = "Each service chose its own mix of these."


def bullet_font(path: Path) -> Path:
    """DejaVu Sans with U+F0B7 (Symbol's bullet) and U+F0A7 (Wingdings' square) mapped to its glyphs."""
    from fontTools.ttLib import TTFont

    font = TTFont(str(DEJAVU))
    for table in font["cmap"].tables:
        if table.isUnicode() and table.format in (4, 12):
            table.cmap[0xF0B7] = table.cmap[0x2022]
            table.cmap[0xF0A7] = table.cmap[0x25AA]
    font.save(str(path))
    return path


def make_bullets_pdf(path: Path, font: Path) -> Path:
    pdf = _PagedPDF()
    pdf.add_font("Bullets", fname=str(font))
    pdf.add_page()
    _pdf_heading(pdf, "What the services offered", 14)
    _pdf_paragraph(pdf, BULLET_LEAD_IN)
    for glyph, text in (*BULLET_ITEMS, BULLET_LONG_ITEM):
        pdf.set_font("Bullets", size=11)
        pdf.set_x(pdf.l_margin + 4)
        pdf.cell(8, 6, glyph)
        pdf.set_font("Helvetica", size=11)
        pdf.multi_cell(120, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    _pdf_paragraph(pdf, BULLET_AFTER)
    pdf.output(str(path))
    return path


# Hyphens at line ends, each line written where the typesetter broke it. "e-survey" is a word of
# its own (no "esurvey" anywhere); "inter-vention" is the English word "intervention"; the document
# writes "microcommissioning" (no English word list knows it) unhyphenated elsewhere.
HYPHEN_LINES = (
    "Members answered an e-",
    "survey about the groups, and the teams recorded each early inter-",
    "vention they made, which fed the annual micro-",
    "commissioning round for the smaller services.",
)
HYPHEN_OWN_SPELLING = "Microcommissioning lets a team fund a single group for one season."


def make_hyphens_pdf(path: Path, own_spelling: bool = True) -> Path:
    pdf = _PagedPDF()
    pdf.add_page()
    _pdf_heading(pdf, "Gathering views", 14)
    pdf.set_font("Helvetica", size=11)
    for line in HYPHEN_LINES:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    if own_spelling:
        _pdf_paragraph(pdf, HYPHEN_OWN_SPELLING)
    pdf.output(str(path))
    return path


# Headings as reports set them: a large heading wrapped over two lines, a bold run-in heading
# opening its paragraph, and a bold line of body size standing alone above its paragraph.
WRAPPED_HEADING = "Recommendations for the future commissioning of community personality disorder services"
WRAPPED_BODY = "The review makes four recommendations to commissioners and providers."
RUN_IN_HEADING = "Time constraints"
RUN_IN_BODY = (
    "The timescales for setting up the pilots were short, and several services opened before their "
    "staff had been fully trained."
)
BOLD_LINE_HEADING = "Funding arrangements"
BOLD_LINE_BODY = (
    "Each pilot was funded for three years by the Department of Health, with the local trust "
    "meeting the cost of its premises and management."
)


def make_headings_pdf(path: Path) -> Path:
    pdf = _PagedPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=16)
    pdf.multi_cell(110, 8, WRAPPED_HEADING, new_x="LMARGIN", new_y="NEXT")  # wraps onto a second line
    pdf.ln(4)
    _pdf_paragraph(pdf, WRAPPED_BODY)
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, f"**{RUN_IN_HEADING}** {RUN_IN_BODY}", markdown=True)
    pdf.ln(5)
    pdf.set_font("Helvetica", style="B", size=11)
    pdf.multi_cell(0, 6, BOLD_LINE_HEADING, new_x="LMARGIN", new_y="NEXT")  # no gap: the paragraph follows at the line pitch
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, BOLD_LINE_BODY)
    pdf.output(str(path))
    return path


# Text drawn at font size 1 and scaled to its printed size by the text matrix ("/F1 1 Tf
# 16 0 0 16 x y Tm"), as many PDF makers (InDesign, Quartz, some print drivers) write it. fpdf2
# has no API for it: the lines are written as raw content operators into fpdf2's page stream.
SCALED_HEADINGS = ("Staff wellbeing", "Training and supervision")
SCALED_BODY = (
    ("Staff in the pilots reported high levels of satisfaction with their work and their teams.",
     "Sickness absence was lower than in the trusts' other services."),
    ("Every member of staff received weekly clinical supervision from a senior colleague.",
     "New staff joined a six-week induction course before seeing members."),
)


def make_scaled_text_pdf(path: Path, heading_size: float = 16, body_size: float = 10) -> Path:
    from fpdf import FPDF
    from fpdf.enums import PDFResourceType

    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    font = pdf.current_font
    height = pdf.h_pt
    y = height - 72

    def draw(text: str, size: float) -> None:
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        pdf._out(f"BT /F{font.i} 1 Tf {size:g} 0 0 {size:g} 72 {y:.2f} Tm ({escaped}) Tj ET")

    pdf._resource_catalog.add(PDFResourceType.FONT, font.i, pdf.page)
    for heading, lines in zip(SCALED_HEADINGS, SCALED_BODY):
        draw(heading, heading_size)
        y -= heading_size * 1.8
        for line in lines:
            draw(line, body_size)
            y -= body_size * 1.25
        y -= body_size * 1.5
    pdf.output(str(path))
    return path


# Footnotes as Word sets them: a superscript number after its word in the body, and the note at
# the page's foot in a smaller size, opening with its number. The paragraph holding the marker
# runs on to page 2, so the note must wait until the paragraph is complete.
FOOTNOTE_BODY = (
    "The largest of the pilots was the service in North Tyneside",
    "9",
    " (N. Tyneside) which took referrals from the whole of the north east and ran groups in four "
    "towns. It had a waiting list in every year of the programme, and its staff were asked to train "
    "the teams of three other services, which they did in the course of the second and third years while",
)
FOOTNOTE_BODY_PAGE2 = "keeping their own groups running at full strength."
FOOTNOTE_TEXT = "The North Tyneside pilot was run by the Northumberland, Tyne and Wear NHS Trust."
FOOTNOTE_NUMBER = "9"
FOOTNOTE_SENTENCE = "The largest of the pilots was the service in North Tyneside\u2079 (N. Tyneside) which took referrals from the whole of the north east and ran groups in four towns."


def make_footnotes_pdf(path: Path) -> Path:
    pdf = _PagedPDF(header="Community Services Review")
    pdf.add_page()
    _pdf_heading(pdf, "The pilot sites", 14)
    for filler in FILLERS[:3]:
        _pdf_paragraph(pdf, filler)
    pdf.set_font("Helvetica", size=11)
    before, number, after = FOOTNOTE_BODY
    pdf.write(6, before)
    pdf.char_vpos = "SUP"
    pdf.write(6, number)
    pdf.char_vpos = "LINE"
    pdf.write(6, after)
    pdf.set_y(-42)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + 50, pdf.get_y())
    pdf.ln(2)
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(0, 4, f"{FOOTNOTE_NUMBER} {FOOTNOTE_TEXT}")
    pdf.add_page()
    _pdf_paragraph(pdf, FOOTNOTE_BODY_PAGE2)
    _pdf_paragraph(pdf, FILLERS[3])
    pdf.output(str(path))
    return path


# A table drawn with ruling lines (fpdf2's table() draws every cell border), under its caption.
TABLE_CAPTION = "Table 2: Referrals to the pilot services by area"
TABLE_ROWS = (
    ("Area", "2015", "2016"),
    ("Crawley", "12", "14"),
    ("North Tyneside", "31", "40"),
    ("Leeds", "27", "35"),
)
TABLE_ROW_TEXTS = (
    "Area: Crawley; 2015: 12; 2016: 14",
    "Area: North Tyneside; 2015: 31; 2016: 40",
    "Area: Leeds; 2015: 27; 2016: 35",
)
TABLE_BEFORE = "Referrals rose in every area between the two years."
TABLE_AFTER = "Most referrals came from community mental health teams."


def make_table_pdf(path: Path) -> Path:
    pdf = _PagedPDF()
    pdf.add_page()
    _pdf_heading(pdf, "Referrals", 14)
    _pdf_paragraph(pdf, TABLE_BEFORE)
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.multi_cell(0, 6, TABLE_CAPTION, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", size=10)
    with pdf.table(col_widths=(60, 30, 30), width=120, align="LEFT", text_align=("LEFT", "RIGHT", "RIGHT")) as table:
        for cells in TABLE_ROWS:
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.ln(6)
    _pdf_paragraph(pdf, TABLE_AFTER)
    pdf.output(str(path))
    return path


def make_table_docx(path: Path) -> Path:
    from docx import Document

    document = Document()
    document.add_heading("Referrals", level=1)
    document.add_paragraph(TABLE_BEFORE)
    document.add_paragraph(TABLE_CAPTION, style="Caption")
    table = document.add_table(rows=len(TABLE_ROWS), cols=len(TABLE_ROWS[0]))
    table.style = "Table Grid"
    for r, cells in enumerate(TABLE_ROWS):
        for c, cell in enumerate(cells):
            table.cell(r, c).text = cell
    document.add_paragraph(TABLE_AFTER)
    document.save(str(path))
    return path


def make_table_html(path: Path) -> Path:
    head = "".join(f"<th>{cell}</th>" for cell in TABLE_ROWS[0])
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in TABLE_ROWS[1:])
    html = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Referrals</title></head>
<body><main><article>
<h1>Referrals</h1>
<p>{TABLE_BEFORE}</p>
<table><caption>{TABLE_CAPTION}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>{TABLE_AFTER}</p>
</article></main></body></html>
"""
    path.write_text(html, encoding="utf-8")
    return path


# A report opening with a cover (title, subtitle, authors, date) and a contents page whose lines
# have dot leaders; the metadata title is the word processor's file name, as it often is.
COVER_TITLE = "Innovation in Action"
COVER_SUBTITLE = "Review of the National Community Personality Disorder Pilots"
COVER_AUTHORS = "Dr Lisa Wilson and Dr Rex Haigh"
COVER_DATE = "March 2007"
CONTENTS = (("Introduction", 3), ("The pilot services", 3), ("Findings", 4))
CONTENTS_INTRO = "This review describes the eleven pilot services and what they achieved for their members."


def make_front_matter_pdf(path: Path) -> Path:
    pdf = _PagedPDF(numbers=lambda n: str(n) if n > 1 else "")
    pdf.set_title("Microsoft Word - IIA_final_v3.doc")
    pdf.add_page()
    pdf.ln(40)
    pdf.set_font("Helvetica", style="B", size=28)
    pdf.multi_cell(0, 14, COVER_TITLE, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=16)
    pdf.multi_cell(0, 9, COVER_SUBTITLE, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(30)
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 7, COVER_AUTHORS, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 7, COVER_DATE, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    _pdf_heading(pdf, "Contents", 14)
    pdf.set_font("Helvetica", size=11)
    for entry, page in CONTENTS:
        pdf.cell(0, 7, f"{entry} {'.' * (90 - 2 * len(entry))} {page}", new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    _pdf_heading(pdf, "Introduction", 14)
    _pdf_paragraph(pdf, CONTENTS_INTRO)
    _pdf_paragraph(pdf, FILLERS[0])
    _pdf_heading(pdf, "The pilot services", 14)
    _pdf_paragraph(pdf, FILLERS[1])
    pdf.add_page()
    _pdf_heading(pdf, "Findings", 14)
    _pdf_paragraph(pdf, SAVINGS)
    pdf.output(str(path))
    return path


# Printed page numbers: a cover without one, then "1" on the second page (the labels differ from
# the page indexes), or "1" on the first page (they agree).
LABELLED_SENTENCES = (
    "The first chapter sets out how the pilots were chosen.",
    "The second chapter reports what the members said about them.",
    "The third chapter reports the costs of the services.",
)


def make_numbered_pages_pdf(path: Path, cover: bool, labels_in_file: bool = False) -> Path:
    """A cover (``cover``) and three chapter pages, numbered by printed folios, or
    (``labels_in_file``) by the PDF's own page labels ("i" for the cover, then 1, 2, 3) and no folios."""
    if labels_in_file:
        numbers = lambda n: ""  # noqa: E731
    else:
        numbers = (lambda n: "" if n == 1 else str(n - 1)) if cover else str
    pdf = _PagedPDF(header="Review of the pilots", numbers=numbers, header_from=2 if cover else 1)
    if cover:
        pdf.add_page(**({"label_style": "r"} if labels_in_file else {}))
        pdf.ln(60)
        pdf.set_font("Helvetica", style="B", size=28)
        pdf.multi_cell(0, 14, "Review of the pilots", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 7, COVER_AUTHORS, align="C", new_x="LMARGIN", new_y="NEXT")
    for number, sentence in enumerate(LABELLED_SENTENCES, start=1):
        pdf.add_page(**({"label_style": "D", "label_start": 1} if labels_in_file and number == 1 else {}))
        _pdf_heading(pdf, f"Chapter {number}", 14)
        _pdf_paragraph(pdf, sentence + " " + FILLERS[number])
    pdf.output(str(path))
    return path


# A scan: a text PDF rendered to images with pypdfium2 and wrapped, image only, into a new PDF.
SCAN_HEADING = "Outcomes of the pilots"
SCAN_PARAGRAPHS = (
    "The pilot services reduced the number of days their members spent in hospital by more than half "
    "in the year after they joined, compared with the year before.",
    "Members used accident and emergency departments less often, and fewer of them were in contact "
    "with the police or the probation service at the end of the programme.",
    "Staff in every service said that regular supervision and a shared model of care were what made "
    "the work possible, and most of them would recommend the job to a colleague.",
)


def make_text_pdf_for_scan(path: Path) -> Path:
    pdf = _PagedPDF()
    pdf.add_page()
    _pdf_heading(pdf, SCAN_HEADING, 16)
    for paragraph in SCAN_PARAGRAPHS:
        _pdf_paragraph(pdf, paragraph)
    pdf.output(str(path))
    return path


def make_image_only_pdf(source: Path, path: Path, dpi: int = 200) -> Path:
    """Each page of ``source`` as a picture: a PDF with no text layer, as a scanner makes."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    document = pdfium.PdfDocument(str(source))
    scan = FPDF(format="A4")
    scan.set_auto_page_break(False)
    try:
        for page in document:
            image = page.render(scale=dpi / 72, grayscale=True).to_pil()
            scan.add_page()
            scan.image(image, x=0, y=0, w=scan.w, h=scan.h)
    finally:
        document.close()
    scan.output(str(path))
    return path


# Word's automatic numbering: headings numbered by a multi-level list linked to the Heading styles
# ("1", "2", "2.1", "2.2"), and list paragraphs numbered "(a)", "(b)", "(c)".
NUMBERED_HEADINGS = (
    (1, "Introduction"), (1, "Governance"), (2, "Terms of reference"), (2, "Board Membership"),
)
NUMBERED_HEADINGS_PRINTED = ("1 Introduction", "2 Governance", "2.1 Terms of reference", "2.2 Board Membership")
NUMBERED_LEAD_IN = "The board has the following members:"
NUMBERED_ITEMS = ("the chair of the trust", "two non-executive directors", "the medical director")
NUMBERED_ITEMS_PRINTED = tuple(f"({letter}) {item}" for letter, item in zip("abc", NUMBERED_ITEMS))


def _numbering_xml(abstract_id: int, levels: list[tuple[str, str]]) -> str:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/></w:lvl>'
        for i, (fmt, text) in enumerate(levels)
    )
    return f'<w:abstractNum {w} w:abstractNumId="{abstract_id}">{body}</w:abstractNum>'


def make_numbered_docx(path: Path) -> Path:
    from docx import Document
    from docx.oxml import parse_xml
    from docx.oxml.ns import qn

    document = Document()
    numbering = document.part.numbering_part.element
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    first_num = numbering.find(qn("w:num"))
    for abstract_id, levels in ((90, [("decimal", "%1"), ("decimal", "%1.%2")]), (91, [("lowerLetter", "(%1)")])):
        abstract = parse_xml(_numbering_xml(abstract_id, levels))
        if first_num is not None:
            first_num.addprevious(abstract)  # abstractNum elements come before num elements
        else:
            numbering.append(abstract)
        numbering.append(parse_xml(f'<w:num {w} w:numId="{abstract_id}"><w:abstractNumId w:val="{abstract_id}"/></w:num>'))

    def number(properties, num_id: int, level: int) -> None:
        properties.append(parse_xml(f'<w:numPr {w}><w:ilvl w:val="{level}"/><w:numId w:val="{num_id}"/></w:numPr>'))

    for level in (1, 2):  # the heading styles carry the numbering, as Word's numbered headings do
        number(document.styles[f"Heading {level}"].element.get_or_add_pPr(), 90, level - 1)
    document.add_paragraph("Standing orders of the board", style="Title")
    for level, text in NUMBERED_HEADINGS:
        document.add_heading(text, level=level)
        document.add_paragraph(f"This section covers {text.lower()}.")
    document.add_paragraph(NUMBERED_LEAD_IN)
    for item in NUMBERED_ITEMS:
        paragraph = document.add_paragraph(item, style="List Paragraph")
        number(paragraph._p.get_or_add_pPr(), 91, 0)
    document.add_paragraph("Members serve for three years.")
    document.save(str(path))
    return path


def make_zip_bomb_docx(path: Path, inflated_mb: int) -> Path:
    """A DOCX holding, beside its real parts, a part of ``inflated_mb`` MB of zeros that deflates to a few KB."""
    import zipfile

    from docx import Document

    document = Document()
    document.add_paragraph("A short note.")
    document.save(str(path))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("word/media/padding.bin", "w", force_zip64=True) as part:
            chunk = bytes(1 << 20)
            for _ in range(inflated_mb):
                part.write(chunk)
    return path


# A policy whose every page ends with a two-line disclaimer in the body size (a running footer a
# reader drops), and whose first page holds only a heading and a short paragraph: a page of text,
# not a title page, although few of its lines are prose once the footer is gone.
DISCLAIMER = (
    "This document is uncontrolled when printed: check the trust's intranet for the latest version "
    "before relying on it, and destroy any printed copy after use."
)
POLICY_HEADING = "Lone working policy"
POLICY_INTRO = (
    "This policy sets out how staff who visit members at home alone keep themselves safe, what "
    "their managers must do to support them, and how a visit that goes wrong is reported and "
    "reviewed by the team."
)


def make_disclaimer_pdf(path: Path) -> Path:
    from fpdf import FPDF

    class Policy(FPDF):
        def footer(self):
            self.set_y(-30)
            self.set_font("Helvetica", size=11)
            self.multi_cell(0, 6, DISCLAIMER)

    pdf = Policy(format="A4")
    pdf.set_auto_page_break(True, margin=35)
    pdf.add_page()
    _pdf_heading(pdf, POLICY_HEADING, 16)
    _pdf_paragraph(pdf, POLICY_INTRO)
    for filler in FILLERS[1:4]:
        pdf.add_page()
        _pdf_paragraph(pdf, filler)
        _pdf_paragraph(pdf, FILLERS[0])
    pdf.output(str(path))
    return path

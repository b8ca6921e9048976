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

"""Reading stage: a document file of any supported format → the text pdqa indexes and quotes.

Plain text and Markdown are read byte-for-byte. PDF (pypdfium2), HTML (trafilatura) and DOCX
(python-docx) are converted to Markdown-like text: one paragraph per block, headings on lines
of their own starting with ``#`` (the chunker's section marker). That text is what pdqa quotes;
the index stores it beside itself, so ``quote == stored_text[start:end]`` holds for every format.
Each reader library is imported only when a file of its format is read.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from .errors import CorpusError

# Part of the chunker parameters in the manifest: a change to how text is extracted makes indexes stale.
CODE_SHA256 = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
FORMATS = {".txt": "text", ".md": "markdown", ".pdf": "pdf", ".html": "html", ".htm": "html", ".docx": "docx"}
# A line alone at a page edge that is only a page number: "7", "Page 7", "7 of 12", "- 7 -".
PAGE_NUMBER_RE = re.compile(r"^[\W_]*(page\s+)?\d{1,4}(\s*(of|/)\s*\d{1,4})?[\W_]*$", re.IGNORECASE)
BULLET_START_RE = re.compile(r"^([•*\-–·]|\d{1,2}[.)])\s")
# pdfium marks a hyphen it found at a line end (and joined the lines) with one of these.
SOFT_HYPHENS = "\x02\ufffe\u00ad"
# These layout constants were not tuned on pdqa's test documents (which would make the tests
# unable to fail); they sit between what typesetting conventions put on either side.
# Lines edging a page that repeat on at least this share of pages are running headers/footers:
# a repeated line on most pages, not a phrase two pages happen to share.
RUNNING_SHARE = 0.6
EDGE_LINES = 2
# A line this much larger than the body text is a heading: heading sizes are conventionally
# ≥ 1.2× the body (12 pt on 10 pt), while bold or italic body text has the body's size.
HEADING_SIZE_RATIO = 1.15
HEADING_MAX_CHARS = 120
# A baseline step this much larger than the usual line pitch starts a paragraph: line spacing is
# 1.0–1.2× the usual pitch within a paragraph, and a paragraph gap adds at least half a line.
PARAGRAPH_PITCH_RATIO = 1.3


class NoText(CorpusError):
    """A document holds no extractable text (for example a scanned PDF without a text layer)."""


@dataclass(frozen=True)
class Extracted:
    """What a reader makes of one file.

    Attributes:
        text: The text pdqa indexes and quotes.
        format: "text", "markdown", "pdf", "html" or "docx".
        title: The document's own title when it has one, else "".
        page_starts: Offset in ``text`` where each page begins (PDF only; empty elsewhere).
    """

    text: str
    format: str
    title: str = ""
    page_starts: tuple[int, ...] = ()

    @property
    def pages(self) -> int | None:
        """Number of pages (PDF), else None."""
        return len(self.page_starts) or None

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding ``offset`` (PDF), else None."""
        if not self.page_starts:
            return None
        return bisect_right(self.page_starts, offset)


def format_of(path: Path) -> str | None:
    """The format pdqa reads ``path`` as, or None when it is not a supported document."""
    return FORMATS.get(path.suffix.lower())


def read_document(path: Path) -> Extracted:
    """Read one document file.

    Raises:
        CorpusError: The file cannot be read or parsed, or is not a supported format.
        NoText: The document holds no text (a scanned PDF, an HTML page without content).
    """
    kind = format_of(path)
    readers = {"text": _read_plain, "markdown": _read_plain, "pdf": _read_pdf, "html": _read_html, "docx": _read_docx}
    if kind is None:
        raise CorpusError(f"unsupported document format: {path.name}", f"supported: {', '.join(sorted(FORMATS))}")
    try:
        extracted = readers[kind](path)
    except CorpusError:
        raise
    except Exception as exc:  # each library has its own errors for a damaged file
        raise CorpusError(f"cannot read {kind} file {path}: {_first_line(exc)}") from exc
    if kind not in ("text", "markdown") and not extracted.text.strip():
        raise NoText(f"{path.name}: no text found")
    return extracted


def _first_line(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _read_plain(path: Path) -> Extracted:
    # Exactly as stored (newline="" semantics): offsets index the file itself.
    return Extracted(text=path.read_bytes().decode("utf-8"), format=format_of(path))


# ---------------------------------------------------------------- HTML


def _read_html(path: Path) -> Extracted:
    import trafilatura

    html = path.read_bytes()  # bytes: trafilatura detects the page's encoding itself
    text = trafilatura.extract(html, output_format="markdown", include_tables=True, include_comments=False)
    metadata = trafilatura.extract_metadata(html)
    return Extracted(text=(text or "").strip() + "\n", format="html", title=(metadata and metadata.title) or "")


# ---------------------------------------------------------------- DOCX


def _read_docx(path: Path) -> Extracted:
    import docx

    document = docx.Document(str(path))
    blocks = []
    for paragraph in document.paragraphs:
        text = " ".join(paragraph.text.split())
        if text:
            blocks.append(_docx_heading_mark(paragraph.style.name if paragraph.style else "") + text)
    title = document.core_properties.title or ""
    return Extracted(text="\n\n".join(blocks) + "\n", format="docx", title=title)


def _docx_heading_mark(style: str) -> str:
    """'# ' for Title and Heading 1, '## ' for Heading 2, …; '' for body styles."""
    if style == "Title":
        return "# "
    match = re.fullmatch(r"Heading (\d)", style)
    return "#" * int(match.group(1)) + " " if match else ""


# ---------------------------------------------------------------- PDF


@dataclass
class _PdfLine:
    text: str
    size: float  # largest font size on the line
    baseline: float  # y of the first character's origin (PDF y grows upwards)


def _read_pdf(path: Path) -> Extracted:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = [_page_lines(page) for page in pdf]
        title = (pdf.get_metadata_dict().get("Title") or "").strip()
    finally:
        pdf.close()
    if not any(pages):
        raise NoText(
            f"{path.name}: the PDF has no text layer (a scan?); OCR is not supported",
            "Add a PDF with selectable text, or its text as a .txt file.",
        )
    pages = _without_running_lines(pages)
    return _layout(pages, title)


def _page_lines(page) -> list[_PdfLine]:
    import ctypes

    import pypdfium2.raw as raw

    textpage = page.get_textpage()
    x, y = ctypes.c_double(), ctypes.c_double()
    lines, chars, sizes, baseline = [], [], [], None
    for index in range(textpage.count_chars()):
        char = chr(raw.FPDFText_GetUnicode(textpage.raw, index))
        if char in "\r\n":
            _close_line(lines, chars, sizes, baseline)
            chars, sizes, baseline = [], [], None
            continue
        if baseline is None:
            raw.FPDFText_GetCharOrigin(textpage.raw, index, x, y)
            baseline = y.value
        if char in SOFT_HYPHENS:
            continue  # pdfium already joined the two halves of a hyphenated word
        chars.append(char)
        if not char.isspace():
            sizes.append(raw.FPDFText_GetFontSize(textpage.raw, index))
    _close_line(lines, chars, sizes, baseline)
    textpage.close()
    return lines


def _close_line(lines: list[_PdfLine], chars: list[str], sizes: list[float], baseline) -> None:
    text = " ".join("".join(chars).split())
    if text:
        lines.append(_PdfLine(text, max(sizes, default=0.0), baseline or 0.0))


def _without_running_lines(pages: list[list[_PdfLine]]) -> list[list[_PdfLine]]:
    """Drop page numbers and lines repeated at the top or bottom of most pages."""
    counts = Counter(key for page in pages for key in {_edge_key(line) for line in _edges(page)})
    threshold = max(2, RUNNING_SHARE * len(pages))
    running = {key for key, count in counts.items() if count >= threshold}
    cleaned = []
    for page in pages:
        edges = {id(line) for line in _edges(page)}
        cleaned.append([
            line for line in page
            if id(line) not in edges or not (_edge_key(line) in running or PAGE_NUMBER_RE.match(line.text))
        ])
    return cleaned


def _edges(page: list[_PdfLine]) -> list[_PdfLine]:
    return page[:EDGE_LINES] + page[-EDGE_LINES:]


def _edge_key(line: _PdfLine) -> str:
    # "Page 3 of 9" and "Page 4 of 9" are the same running line.
    return re.sub(r"\d+", "#", line.text.lower())


def _layout(pages: list[list[_PdfLine]], title: str) -> Extracted:
    """Join lines into paragraphs and headings, pages one after another; note each page's start."""
    body_size = _body_size(pages)
    pitch = _usual_pitch(pages)
    text, page_starts = "", []
    for page in pages:
        page_starts.append(len(text))
        blocks = _blocks(page, body_size, pitch)
        if blocks:
            text += "\n\n".join(blocks) + "\n\n"
    headings = [line for page in pages for line in page if _is_heading(line, body_size)]
    return Extracted(
        text=text.rstrip("\n") + "\n",
        format="pdf",
        title=title or (headings[0].text if headings else ""),
        page_starts=tuple(page_starts),
    )


def _body_size(pages: list[list[_PdfLine]]) -> float:
    """The font size most characters are set in."""
    weights = Counter()
    for page in pages:
        for line in page:
            weights[round(line.size, 1)] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


def _usual_pitch(pages: list[list[_PdfLine]]) -> float:
    steps = [a.baseline - b.baseline for page in pages for a, b in zip(page, page[1:]) if a.baseline > b.baseline]
    return median(steps) if steps else 0.0


def _is_heading(line: _PdfLine, body_size: float) -> bool:
    return line.size >= HEADING_SIZE_RATIO * body_size and len(line.text) <= HEADING_MAX_CHARS


def _blocks(page: list[_PdfLine], body_size: float, pitch: float) -> list[str]:
    blocks: list[str] = []
    previous = None
    for line in page:
        if _is_heading(line, body_size):
            blocks.append("# " + line.text)
            previous = None
            continue
        if previous is None or _starts_paragraph(previous, line, pitch):
            blocks.append(line.text)
        else:
            blocks[-1] = _join(blocks[-1], line.text)
        previous = line
    return blocks


def _starts_paragraph(previous: _PdfLine, line: _PdfLine, pitch: float) -> bool:
    step = previous.baseline - line.baseline
    if step <= 0:  # up to the top of the next column: a new paragraph unless a sentence runs on
        return previous.text.endswith((".", "!", "?", ":"))
    return step > PARAGRAPH_PITCH_RATIO * pitch or bool(BULLET_START_RE.match(line.text))


def _join(paragraph: str, line: str) -> str:
    """Add a line to its paragraph, joining a word hyphenated across the line end."""
    if re.search(r"[a-z]-$", paragraph) and line[:1].islower():
        return paragraph[:-1] + line
    return paragraph + " " + line

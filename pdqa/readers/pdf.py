"""PDF reader: pypdfium2's characters, with font size, weight and position, laid out into blocks.

What a report's pages hold besides running prose, and what becomes of it:

* running headers and footers (lines repeated at the top or bottom of most pages, or at the
  same place on most pages) and page numbers are dropped; the printed page numbers become the
  pages' labels when the PDF has none;
* table-of-contents lines (dot leaders) are navigation, not text, and are dropped;
* headings are lines set larger than the body text, or bold or underlined lines standing alone
  (an underlined link's text is a link; bold labels side by side in a grid laid out without
  rules are its cells; bold text set smaller than the body is a chart's label or a note, not a
  heading; a bold bullet standing alone over its paragraphs marks a subheading; the few words
  atop a drawn box are its title); a heading that wraps is one heading; a bold phrase opening a
  paragraph ("Time constraints The timescales …") is a run-in heading of its own;
* bullets drawn with symbol fonts (private-use code points), or drawn as small dots or squares,
  become list items ("• "), and so do lines ending with ";" under a lead-in ending with ":";
* superscript footnote markers are kept apart from their word ("Tyneside⁹"); footnotes at a
  page's foot go after that page's text, as footnotes;
* a table drawn with ruling lines or shaded cells (on a page turned by /Rotate too) becomes one
  line per row, "Header: value; …", under its caption;
* a paragraph continued across a page or column break is joined (the page of each part kept),
  and a word hyphenated at a line end is joined only when the document (or an English word list)
  spells it without the hyphen: "inter-" + "vention" is "intervention", "e-" + "survey" stays "e-survey";
* a page without a text layer is read by OCR when the ``ocr`` extra is installed.

The constants below follow typesetting conventions; they were not tuned on any one document.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from statistics import median

from ..errors import CorpusWarning
from ..settings import CorpusSettings
from .base import Extracted, NoText
from .layout import BULLET_GLYPHS, PRIVATE_USE_RE, SUPERSCRIPT_DIGITS, Block, TextBuilder, is_caption, table_row_text
from .tables import Table, find_tables, has_grid, page_paths

# A line alone at a page edge that is only a page number: "7", "Page 7", "7 of 12", "- 7 -", "3/20".
PAGE_NUMBER_RE = re.compile(r"^[\W_]*(page\s+)?(\d{1,4}|[ivxlc]{1,6})(\s*(of|/)\s*\d{1,4})?[\W_]*$", re.IGNORECASE)
# Dot leaders of a contents line: "Introduction ........ 4".
LEADER_RE = re.compile(r"(?:\.\s?){4,}\s*\d*\s*$|…{2,}|(?:\s\.){4,}")
# pdfium marks a hyphen it found at a line end with one of these.
SOFT_HYPHENS = "\x02\ufffe\u00ad"
SENTENCE_END = (".", "!", "?", ":", ";")
# Lines edging a page that repeat on at least this share of pages are running headers/footers.
RUNNING_SHARE = 0.6
EDGE_LINES = 2
RUNNING_KEY_CHARS = 40
PLACE_POINTS = 3.0  # points: lines this close in position stand at the same place
# Headings are conventionally set ≥ 1.2× the body size (12 pt on 10 pt); bold or italic body text
# keeps the body's size.
HEADING_SIZE_RATIO = 1.15
HEADING_MAX_CHARS = 120
# A baseline step this much larger than the usual line pitch starts a paragraph: line spacing is
# 1.0–1.2× the usual pitch within a paragraph, and a paragraph gap adds at least half a line.
PARAGRAPH_PITCH_RATIO = 1.3
# A line in another size a step no larger than this many line pitches below the one before runs on in its paragraph.
RUN_PITCH_RATIO = 1.1
# Footnotes and superscripts are set smaller than the body (conventionally 8 pt on 10–12 pt).
SMALL_RATIO = 0.85
SUPERSCRIPT_RATIO = 0.8
SMALLER_POINTS = 0.5  # a line set this much smaller than the body is in a smaller size
RAISED_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
SUPERSCRIPT_RISE = 0.2  # of the body size, above the baseline
BOLD_WEIGHT = 600
# A title page holds few words: a cover, not a page of text.
FRONT_MAX_WORDS = 120
ITEM_MAX_CHARS = 160
PROSE_LINE_CHARS = 60  # a line of running prose, not a title line  # an item of a list printed without bullets fits on one line
RUN_IN_MAX_WORDS = 10
# A bullet drawn as a shape (a dot, a square) is a fraction of its line's size across (a bullet
# character is about 0.35 em; a chart's legend key is as large as its text), set within a few ems
# before the item's first word.
MARK_MAX_POINTS = 12.0
MARK_MIN_EM = 0.15
MARK_MAX_EM = 0.6
MARK_GAP_EM = 3.0
MARK_SQUARENESS = 0.2
# An underline is a rule a fraction of a point thick, up to a third of an em under the baseline,
# as long as its text (the line's right end is estimated: half an em past its last character's origin).
UNDERLINE_MAX_POINTS = 2.0
UNDERLINE_MIN_POINTS = 5.0
UNDERLINE_DEPTH_EM = 0.35
UNDERLINE_OVERHANG_EM = 1.0
# Cells of one row of a grid stand on one baseline, to a point.
GRID_ALIGN_POINTS = 1.0
# A gap this wide between two words of a line parts two columns (a word space is a quarter to a
# third of an em, a justified line's rarely more than an em).
COLUMN_GAP_EM = 3.0
# What a tab may follow in a heading or caption: a number, or a word and its number or letter.
LEADING_LABEL_RE = re.compile(r"(?:\w+\s+)?(?:[\d.()]+|[A-Za-z][.)]?|[ivxlcIVXLC]+[.)]?)[.:)]?")
# A box holding text is at least 40% of the page wide and at most half its area; its title stands
# within 2.5 em of its top, is a few words, and its text follows within 3 em.
BOX_MIN_WIDTH = 0.4
BOX_MAX_AREA = 0.5
BOX_TITLE_DEPTH_EM = 2.5
BOX_TITLE_GAP_EM = 3.0
BOX_TITLE_WORDS = 6
# Lines enough, starting at one place, to show where their column's right edge is.
COLUMN_MIN_LINES = 3
# A block's last lines, to show the edge they wrap at.
WRAP_LINES = 4
# A character of the usual report fonts is about half an em wide on average.
AVERAGE_CHAR_WIDTH = 0.5
CONTENTS_HEADING_RE = re.compile(r"^(?:table of )?contents$", re.IGNORECASE)
LINK_RE = re.compile(r"://|\bwww\.|\S@\S")
NUMBERED_RE = re.compile(r"^\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)]\s+\S")
# An item's number run into its first word in the text layer ("20.When", "vii.Any"): the number
# stands in a column of its own on the page, and a space is what a reader sees there.
GLUED_NUMBER_RE = re.compile(r"^\(?(?:\d{1,2}|[a-z]|[ivx]{1,4})[.)](?=[A-Z])")


@dataclass
class _Line:
    text: str
    size: float  # the size most of its characters are set in
    baseline: float  # y of its characters' origin (PDF y grows upwards)
    x0: float
    x1: float
    bold: bool  # every letter bold
    bold_prefix: int = 0  # characters of a bold run opening the line (0: none)
    bullet: bool = False
    bullet_level: int = 0
    page: int = 0
    order: int = 0  # index of its first character in the page (pdfium's reading order)
    underlined: bool = False  # a rule drawn under the whole line, and no further
    beside: bool = False  # text of another column stands on its baseline: a cell of a grid
    small: bool = False  # set smaller than the body text (a chart's labels, a note)
    box_title: bool = False  # a short line heading the text of a drawn box ("Key points")

    @property
    def emphasised(self) -> bool:
        """Set apart as a subheading is: wholly bold, or wholly underlined, alone on its baseline (a
        bold label with bold labels beside it heads a cell of a grid laid out without rules), and
        not smaller than the body text (a chart's axis titles are bold and small)."""
        return (self.bold or self.underlined) and not self.beside and not self.small


@dataclass
class _Page:
    number: int
    lines: list[_Line]
    tables: list[Table] = field(default_factory=list)
    folio: str = ""
    footnotes: list[str] = field(default_factory=list)
    ocr: bool = False


def read(path: Path, limits: CorpusSettings) -> Extracted:
    """Read a PDF into text with pages, headings, lists, tables and footnotes."""
    import pypdfium2 as pdfium

    pdf = _open(path)
    try:
        if len(pdf) == 0:
            raise NoText(f"{path.name}: the PDF has no pages")
        pages = [_read_page(pdf, index, cover=index == 0 and len(pdf) > 1) for index in range(len(pdf))]
        _ocr_scanned_pages(path, pdf, pages)
        labels = [pdf.get_page_label(index) for index in range(len(pdf))]
        metadata_title = (pdf.get_metadata_dict().get("Title") or "").strip()
    except pdfium.PdfiumError as exc:
        raise NoText(f"{path.name}: pdfium cannot read its pages ({exc})") from exc
    finally:
        pdf.close()
    if not any(page.lines or page.tables for page in pages):
        from . import ocr

        raise NoText(f"{path.name}: the PDF has no text layer (a scan?); {ocr.unavailable_reason()}",
                     "Install OCR with pip install 'pdqa[ocr]' and Debian's tesseract-ocr, or add the text as a .txt file.")
    return _lay_out(pages, labels, metadata_title)


def _open(path: Path):
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if _page_count_is_zero(path):
            raise NoText(f"{path.name}: the PDF has no pages") from exc
        raise


def _page_count_is_zero(path: Path) -> bool:
    """pdfium refuses to open a valid PDF of 0 pages ("PDFium: Success"); its page tree says /Count 0.

    Each dictionary is read with the dictionaries nested in it left out (a page tree may hold
    ``/Resources << >>`` before its ``/Count``), and the page tree is the one of ``/Type /Pages``.
    """
    head = path.read_bytes()[: 1 << 20]
    opened: list[tuple[int, list[bytes]]] = []  # (where the dictionary's own text resumes, its parts)
    for match in re.finditer(rb"<<|>>", head):
        if match.group() == b"<<":
            if opened:
                start, parts = opened[-1]
                parts.append(head[start : match.start()])
            opened.append((match.end(), []))
            continue
        if not opened:
            continue
        start, parts = opened.pop()
        own = b" ".join(parts + [head[start : match.start()]])
        if re.search(rb"/Type\s*/Pages\b", own) and re.search(rb"/Count\s+0\b", own):
            return True
        if opened:
            opened[-1] = (match.end(), opened[-1][1])
    return False


# ---------------------------------------------------------------- one page


def _read_page(pdf, index: int, cover: bool = False) -> _Page:
    """One page's lines and tables (``cover``: the page may be a title page, whose boxes are layout)."""
    import pypdfium2.raw as raw

    page = pdf[index]
    textpage = page.get_textpage()
    count = textpage.count_chars()
    text = textpage.get_text_range() if count else ""
    if len(text) != count:  # characters beyond the BMP: read them one by one
        text = "".join(chr(raw.FPDFText_GetUnicode(textpage.raw, i)) for i in range(count))
    reader = _CharReader(textpage.raw)
    spans = _line_spans(text)
    tables = []
    paths = page_paths(page)
    # A cover's boxes and rules are layout, not a table.
    if count and has_grid(page, paths) and not (cover and _few_words(text)):
        tables = find_tables(page, paths, [reader.char(text, i) for start, end in spans for i in range(start, end)], reader.bold)
    taken = {i for table in tables for i in table.char_indexes}
    lines = [line for start, end in spans if (line := _make_line(reader, text, start, end, taken, index + 1)) is not None]
    _mark_drawn_bullets(lines, _small_marks(paths))
    _mark_underlines(lines, paths, _link_areas(page))
    _mark_grid_cells(lines)
    _mark_box_titles(lines, paths, *page.get_size())
    textpage.close()
    page.close()
    return _Page(index + 1, lines, tables)


def _small_marks(paths) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of the small, about square shapes among a page's paths: bullets a browser's
    print or a design program draws as dots or squares instead of writing a bullet character."""
    marks = []
    for _, x0, y0, x1, y1 in paths:
        width, height = x1 - x0, y1 - y0
        if 0 < width <= MARK_MAX_POINTS and 0 < height <= MARK_MAX_POINTS and abs(width - height) <= MARK_SQUARENESS * max(width, height):
            marks.append((x0, y0, x1, y1))
    return marks


def _mark_drawn_bullets(lines: list[_Line], marks: list[tuple[float, float, float, float]]) -> None:
    """A line with a drawn bullet mark just left of its first character, within its x-height and
    a fraction of its size across, is a list item: the shape is the bullet."""
    for line in lines:
        if line.bullet:
            continue
        for x0, y0, x1, y1 in marks:
            size = max(x1 - x0, y1 - y0)
            middle = (y0 + y1) / 2
            if (MARK_MIN_EM * line.size <= size <= MARK_MAX_EM * line.size and x1 <= line.x0
                    and line.x0 - x1 <= MARK_GAP_EM * line.size and line.baseline <= middle <= line.baseline + 0.8 * line.size):
                line.bullet, line.bold_prefix = True, 0
                break


def _link_areas(page) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of the page's link annotations: where a click opens a web page or a place."""
    import ctypes

    import pypdfium2.raw as raw

    areas, position, link, rect = [], ctypes.c_int(0), raw.FPDF_LINK(), raw.FS_RECTF()
    while raw.FPDFLink_Enumerate(page.raw, ctypes.byref(position), ctypes.byref(link)):
        if raw.FPDFLink_GetAnnotRect(link, ctypes.byref(rect)):
            areas.append((rect.left, rect.bottom, rect.right, rect.top))
    return areas


def _mark_underlines(lines: list[_Line], paths, links) -> None:
    """A line with a thin rule drawn just under its baseline from its first character to its last
    (and not on across the column, as a table's or a separator's rule runs) is underlined, unless
    it is a link's text (underlined because it is a link, as a browser or Word prints links)."""
    thin = [(y0, x0, x1) for _, x0, y0, x1, y1 in paths if 0 <= y1 - y0 <= UNDERLINE_MAX_POINTS and x1 - x0 >= UNDERLINE_MIN_POINTS]
    rules = sorted(thin)
    if not rules:
        return
    heights = [y for y, _, _ in rules]
    for line in lines:
        low, high = line.baseline - UNDERLINE_DEPTH_EM * line.size, line.baseline
        reach = UNDERLINE_OVERHANG_EM * line.size
        for y, x0, x1 in rules[bisect_left(heights, low) : bisect_right(heights, high)]:
            if abs(x0 - line.x0) <= reach and abs(x1 - line.x1) <= reach:
                middle, height = (line.x0 + line.x1) / 2, line.baseline + 0.3 * line.size
                line.underlined = not any(a <= middle <= c and b <= height <= d for a, b, c, d in links)
                break


def _mark_grid_cells(lines: list[_Line]) -> None:
    """Bold lines with another column's bold text (or figures) on their baseline, at two heights of
    the page or more, are the labels and header cells of a grid laid out without rules (names of
    organisations over their people in two columns, a table's header row): cells, not headings."""
    bold = [line for line in lines if line.bold]
    if len(bold) < 2:
        return
    by_height = sorted(lines, key=lambda line: line.baseline)
    heights = [line.baseline for line in by_height]
    found, rows = [], set()
    for line in bold:
        low, high = line.baseline - GRID_ALIGN_POINTS, line.baseline + GRID_ALIGN_POINTS
        level = by_height[bisect_left(heights, low) : bisect_right(heights, high)]
        if any(other is not line and (other.bold or not re.search(r"[^\W\d_]", other.text))
               and (other.x0 > line.x1 or other.x1 < line.x0) for other in level):
            found.append(line)
            rows.add(round(line.baseline))
    if len(rows) >= 2:
        for line in found:
            line.beside = True


def _mark_box_titles(lines: list[_Line], paths, width: float, height: float) -> None:
    """The first line of the text a drawn box holds (a callout, a panel of key points), when it is a
    few words standing at the box's top over more of its text, is the box's title.

    A box is a rectangle across much of the page (a cell is narrower) and not most of the page (a
    page's background); its title has letters (a chart's frame holds figures), and text follows
    it within a few ems (a chart's title stands over the drawing); it ends no sentence or lead-in."""
    seen = set()
    for _, x0, y0, x1, y1 in paths:
        key = (round(x0), round(y0), round(x1), round(y1))
        if x1 - x0 < BOX_MIN_WIDTH * width or (x1 - x0) * (y1 - y0) > BOX_MAX_AREA * width * height or key in seen:
            continue
        seen.add(key)
        inside = [line for line in lines if x0 <= line.x0 and line.x1 <= x1 + line.size and y0 <= line.baseline <= y1]
        inside.sort(key=lambda line: -line.baseline)
        if len(inside) < 3:
            continue
        top, following = inside[0], inside[1]
        at_top = y1 - top.baseline <= BOX_TITLE_DEPTH_EM * top.size
        followed = top.baseline - following.baseline <= BOX_TITLE_GAP_EM * top.size
        if (at_top and followed and len(top.text.split()) <= BOX_TITLE_WORDS and re.search(r"[^\W\d_]", top.text)
                and not top.text.endswith(SENTENCE_END)):  # "High level areas for focus:" leads in to a list
            top.box_title = True


def _few_words(text: str) -> bool:
    """A page of few words (a cover): its boxes and rules are layout, not a table."""
    return len(text.split()) <= FRONT_MAX_WORDS


def _line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character indexes of pdfium's text lines (split at its \\r\\n).

    pdfium writes a hyphen it finds at a line end as U+FFFE (older builds: U+0002) and runs the
    next line on without a line break ("e\\ufffesurvey"): such a line ends after its hyphen, so
    the join decides whether the hyphen splits one word, and a page number under a hyphenated
    last line is a line of its own.
    """
    spans, start = [], 0
    for match in re.finditer(r"\r\n|\r|\n|(?<=[\ufffe\x02])", text):
        if match.start() > start:
            spans.append((start, match.start()))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


class _CharReader:
    """A character's size, weight and origin from pdfium, each read only when it is needed.

    Every pdfium call costs about 2 µs and a page holds thousands of characters, so a line's size
    is taken from a sample of its characters, its boldness from its opening letters (and a sample
    when they are bold), and positions only at a line's ends, for small characters that may be
    superscripts, and on pages that draw a table grid.
    """

    def __init__(self, handle):
        import ctypes

        import pypdfium2.raw as raw

        self.handle = handle
        self._size, self._weight, self._origin = raw.FPDFText_GetFontSize, raw.FPDFText_GetFontWeight, raw.FPDFText_GetCharOrigin
        self._loose_box, self.box = raw.FPDFText_GetLooseCharBox, raw.FS_RECTF()
        self.x, self.y = ctypes.c_double(), ctypes.c_double()
        self.positions: dict[int, tuple[float, float]] = {}

    def size(self, i: int) -> float:
        """The character's size in points. Text drawn at font size 1 and scaled by its matrix (as
        many PDF makers write it) reports 1.0; its loose box (the font's ascent to descent) then
        gives its size as printed."""
        size = self._size(self.handle, i)
        if abs(size - 1.0) < 1e-6:
            self._loose_box(self.handle, i, self.box)
            size = round((self.box.top - self.box.bottom) / LOOSE_BOX_RATIO, 1)
        return size

    def bold(self, i: int) -> bool:
        """Set in a bold face: by the font's weight, or by its name ("Arial-BoldMT" may say weight 380)."""
        if self._weight(self.handle, i) >= BOLD_WEIGHT:
            return True
        return BOLD_NAME_RE.search(_font_name(self.handle, i)) is not None

    def origin(self, i: int) -> tuple[float, float]:
        found = self.positions.get(i)
        if found is None:
            self._origin(self.handle, i, self.x, self.y)
            found = self.positions[i] = (self.x.value, self.y.value)
        return found

    def char(self, text: str, i: int) -> tuple:
        """(char, x, y, size, weight, index): what the table finder reads of each character."""
        x, y = self.origin(i)
        return (text[i], x, y, self.size(i), 0, i)


SIZE_SAMPLE = 8
BOLD_RUN_LETTERS = 48
BOLD_NAME_RE = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
# A font's ascent-to-descent box is about 1.15 em for the usual report fonts (Arial, Calibri, Verdana).
LOOSE_BOX_RATIO = 1.15
BOLD_SAMPLE = 4


def _make_line(reader: _CharReader, text: str, start: int, end: int, taken: set[int], page: int) -> _Line | None:
    indexes = [i for i in range(start, end) if i not in taken] if taken else range(start, end)
    visible = [i for i in indexes if not text[i].isspace() and text[i] not in SOFT_HYPHENS]
    if not visible:
        return None
    step = max(1, len(visible) // SIZE_SAMPLE)
    sampled = {i: reader.size(i) for i in visible[::step]}
    size = _most_common(sampled.values())
    anchor = next(i for i, s in sampled.items() if s == size)
    baseline = reader.origin(anchor)[1]
    small = SUPERSCRIPT_RATIO * size
    chars = []
    for i in indexes:
        ch = text[i]
        if ch.isdigit() or (ch == "," and chars and chars[-1] in "⁰¹²³⁴⁵⁶⁷⁸⁹"):
            char_size = sampled.get(i) or reader.size(i)
            if char_size <= small and reader.origin(i)[1] >= baseline + SUPERSCRIPT_RISE * size:
                ch = ch.translate(SUPERSCRIPT_DIGITS)
        chars.append(ch)
    joined = "".join(chars).rstrip()
    # pdfium marks a hyphen it found at a line end: it is a "-" there (the join decides whether
    # it splits one word), and nothing anywhere else.
    if joined and joined[-1] in SOFT_HYPHENS:
        joined = joined[:-1] + "-"
    joined = "".join(ch for ch in joined if ch not in SOFT_HYPHENS)
    stripped = " ".join(joined.split())
    letters = [i for i in visible if text[i].isalpha()]
    bold_run, all_bold = _boldness(reader, letters, indexes)
    first_index = visible[0]
    bullet, level = _bullet(reader, text[first_index], first_index, stripped)
    beside = all_bold and _column_gap(reader, text, visible, size)
    prefix = len(" ".join(joined[:bold_run].split())) if 0 < bold_run and not all_bold else 0
    if prefix and not joined[bold_run:].strip(" :.–-"):
        prefix = 0
    if bullet:
        stripped, prefix = stripped[1:].lstrip(), 0
    stripped = PRIVATE_USE_RE.sub("", stripped).strip()
    if not stripped:
        return None
    glued = GLUED_NUMBER_RE.match(stripped)
    if glued:  # "20.When …": the number set in its own column, no space in the text layer
        stripped = stripped[: glued.end()] + " " + stripped[glued.end() :]
        prefix += 1 if prefix > glued.end() else 0
    x0 = reader.origin(first_index)[0]
    x1 = reader.origin(visible[-1])[0] + size * 0.5
    return _Line(stripped, round(size, 1), round(baseline, 1), x0, x1, all_bold, prefix, bullet, level, page, start,
                 beside=beside)


def _column_gap(reader: _CharReader, text: str, visible: list[int], size: float) -> bool:
    """Whether a line holds two columns' text that pdfium read as one line ("Our goals      What we
    mean"): a gap of several ems between words, not the tab after a leading number or label
    ("2.1   Methods", "Table 2   Future numbers", "Appendix B   Survey")."""
    for a, b in zip(visible, visible[1:]):
        if b > a + 1 and reader.origin(b)[0] - reader.origin(a)[0] > COLUMN_GAP_EM * size:
            if not LEADING_LABEL_RE.fullmatch(text[visible[0] : a + 1].strip()):
                return True
    return False


def _boldness(reader: _CharReader, letters: list[int], indexes) -> tuple[int, bool]:
    """How many characters of the line its opening bold run covers, and whether all of it is bold.

    Letters are looked at from the line's start until the first that is not bold, then one in
    four: a line whose first letter is not bold costs one look.
    """
    if not letters or not reader.bold(letters[0]):
        return 0, False
    run_end = None
    for position, i in enumerate(letters[1:], start=1):
        if position > BOLD_RUN_LETTERS and position % BOLD_SAMPLE:
            continue
        if not reader.bold(i):
            run_end = i
            break
    positions = list(indexes)
    if run_end is None:
        return 0, True
    return positions.index(run_end) if run_end in positions else 0, False


def _most_common(values) -> float:
    counts: dict[float, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return max(counts, key=counts.get)


def _bullet(reader: _CharReader, glyph: str, index: int, text: str) -> tuple[bool, int]:
    """Whether a line opens with a bullet glyph (a symbol font's, or Unicode's), and its level."""
    if glyph in BULLET_GLYPHS:
        return len(text) > 1, 0
    if glyph == "o" and len(text) > 2 and text[1] == " " and _font_name(reader.handle, index).lower().startswith("courier"):
        return True, 1  # Word's second-level bullet: a Courier "o"
    return False, 0


def _font_name(handle, index: int) -> str:
    import ctypes

    import pypdfium2.raw as raw

    buffer = ctypes.create_string_buffer(128)
    flags = ctypes.c_int()
    raw.FPDFText_GetFontInfo(handle, index, buffer, 128, flags)
    return buffer.value.decode("latin-1", "replace")


def _ocr_scanned_pages(path: Path, pdf, pages: list[_Page]) -> None:
    """Read the pages without a text layer by OCR, where the ``ocr`` extra is installed."""
    from . import ocr

    scanned = [page for page in pages if not page.lines and not page.tables]
    if not scanned or not ocr.available():
        if scanned and any(page.lines for page in pages):
            import warnings

            warnings.warn(f"{path.name}: {len(scanned)} page(s) have no text layer and were skipped; "
                          f"{ocr.unavailable_reason()}", CorpusWarning, stacklevel=4)
        return
    for page in scanned:
        page.lines = [_Line(text, size, baseline, x0, x1, False, page=page.number, order=order)
                      for order, (text, size, baseline, x0, x1) in enumerate(ocr.page_lines(pdf[page.number - 1]))]
        page.ocr = True


# ---------------------------------------------------------------- the document


def _lay_out(pages: list[_Page], labels: list[str], metadata_title: str) -> Extracted:
    # Whether the first page is a title page is decided once, on the page as printed: dropping
    # running lines can leave a page of text with few enough lines to pass for a cover.
    cover = _has_title_page(pages)
    _drop_running_lines(pages, keep_first=cover)
    body_size = _body_size(pages)
    pitch = _usual_pitch(pages)
    _take_footnotes(pages, body_size)
    vocabulary = _vocabulary(pages)
    front, title = _front_matter(pages, body_size, cover)
    for page in pages:
        for line in page.lines:
            line.small = line.size <= SMALL_RATIO * body_size
    per_page = _unmarked_lists_across_pages([_page_blocks(page, body_size, pitch, vocabulary) for page in pages])
    blocks = _join_across_pages(per_page, pages, vocabulary)
    builder = TextBuilder()
    if front is not None:
        builder.add(front)
    for block in blocks:
        builder.add(block)
    return Extracted(
        text=builder.text,
        format="pdf",
        title=title or _useful(metadata_title) or next((b.text for b in blocks if b.kind == "heading"), ""),
        page_map=tuple(builder.page_map),
        page_labels=_labels(pages, labels),
        regions=tuple(builder.regions),
        pages=len(pages),
    )


def _useful(title: str) -> str:
    """A PDF's metadata title, unless it is a file or template name ("Microsoft Word - x.doc")."""
    junk = ("microsoft word", "untitled", "report template", ".doc", ".pdf", "powerpoint", "contents")
    return "" if not title or any(j in title.lower() for j in junk) or len(title) < 4 else title


def _labels(pages: list[_Page], pdf_labels: list[str]) -> tuple[str, ...]:
    """Printed page labels: the PDF's own, else the folios printed on the pages (when most have one);
    none when they are only the page numbers again (a label then tells a reader nothing more)."""
    if any(pdf_labels):
        if all(label == str(page.number) for label, page in zip(pdf_labels, pages)):
            return ()
        return tuple(pdf_labels)
    folios = [page.folio for page in pages]
    if sum(1 for f in folios if f) >= 0.5 * len(pages) and any(f != str(page.number) for f, page in zip(folios, pages) if f):
        return tuple(folios)
    return ()


def _edges(page: _Page) -> list[_Line]:
    ordered = sorted(page.lines, key=lambda line: -line.baseline)
    return ordered[:EDGE_LINES] + ordered[-EDGE_LINES:]


def _edge_key(line: _Line) -> str:
    # "Page 3 of 9" and "Page 4 of 9" are the same running line; so are a long footer's copies
    # that a browser's print cut at different lengths ("…/government-resp… 10/20", "…-respo… 9/20").
    return re.sub(r"\d+", "#", line.text.lower())[:RUNNING_KEY_CHARS]


def _placed_key(line: _Line) -> tuple[str, int, int]:
    """A line's text (numbers aside) and where it stands, to the nearest few points."""
    return _edge_key(line), round(line.baseline / PLACE_POINTS), round(line.x0 / PLACE_POINTS)


def _has_title_page(pages: list[_Page]) -> bool:
    """A title page comes before the text: a document of one page has none, that page is its text."""
    return len(pages) > 1 and _is_title_page(pages[0])


def _is_title_page(page: _Page) -> bool:
    """A first page of few words and hardly any prose: a cover or title page, not a page of text."""
    if not page.lines or sum(len(line.text.split()) for line in page.lines) > FRONT_MAX_WORDS:
        return False
    body = Counter(line.size for line in page.lines for _ in line.text).most_common(1)[0][0]
    prose = [line for line in page.lines if abs(line.size - body) < 0.5 and len(line.text) >= PROSE_LINE_CHARS]
    return len(prose) <= 2


def _drop_running_lines(pages: list[_Page], keep_first: bool = False) -> None:
    """Drop page numbers (kept as the page's folio) and lines repeated at the top or bottom of most pages.

    A title page keeps its lines: the running header of later pages often repeats its title.
    Lines set in a heading's size that differ from page to page only in their numbers ("Chapter 1",
    "Chapter 2" opening each page) are headings, not a running "Page 1", "Page 2".
    """
    counts = Counter(key for page in pages for key in {_edge_key(line) for line in _edges(page)})
    threshold = max(2, RUNNING_SHARE * len(pages))
    running = {key for key, count in counts.items() if count >= threshold}
    # A line printed at the same place on most pages is a running line wherever it stands: the
    # third line of a banner ("Inquiry" under a logo's "UK" / "Covid-19") as much as its first.
    placed = Counter(key for page in pages for key in {_placed_key(line) for line in page.lines})
    fixed = {key for key, count in placed.items() if count >= max(3, threshold)}
    heading_size = HEADING_SIZE_RATIO * _body_size(pages)
    for page in pages[1:] if keep_first else pages:
        edges = {id(line) for line in _edges(page)}
        kept, dropped = [], []
        for line in page.lines:
            if id(line) in edges and PAGE_NUMBER_RE.match(line.text):
                page.folio = page.folio or re.sub(r"(?i)^\W*page\s+|\W+$|^\W+|\s*(of|/)\s*\d+\W*$", "", line.text)
                dropped.append(line)
                continue
            repeated = (id(line) in edges and _edge_key(line) in running) or _placed_key(line) in fixed
            if repeated and not (line.size >= heading_size and re.search(r"\d", line.text)):
                dropped.append(line)
                continue
            kept.append(line)
        # A line at the page's foot level with its running footer or page number is part of that
        # footer, printed once: the copyright line beside a back cover's folio ("© NHS England 2023
        # | PR2086"). (At the head, a line printed once beside the running header is the page's own:
        # a briefing's number, "Number CBP 10081".)
        foot = {id(line) for line in sorted(page.lines, key=lambda line: line.baseline)[:EDGE_LINES]}
        page.lines = [line for line in kept if not (id(line) in foot and any(
            abs(line.baseline - other.baseline) <= PLACE_POINTS and id(other) in foot for other in dropped))]


def _body_size(pages: list[_Page]) -> float:
    """The font size most characters are set in."""
    weights = Counter()
    for page in pages:
        for line in page.lines:
            weights[round(line.size, 1)] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


def _usual_pitch(pages: list[_Page]) -> float:
    steps = [step for page in pages for step in _steps(page)]
    return median(steps) if steps else 0.0


def _steps(page: _Page) -> list[float]:
    """Baseline steps between neighbouring lines of one size: the line pitch, and paragraph gaps."""
    return [a.baseline - b.baseline for a, b in zip(page.lines, page.lines[1:])
            if a.baseline > b.baseline and abs(a.size - b.size) < 0.5]


def _page_pitch(page: _Page, document_pitch: float) -> float:
    """The page's own usual line pitch (spacing can differ between pages), else the document's."""
    steps = _steps(page)
    return median(steps) if len(steps) >= 2 else document_pitch


def _take_footnotes(pages: list[_Page], body_size: float) -> None:
    """Move footnotes (small lines at a page's foot, opening with a number) out of the body."""
    for page in pages:
        foot = _foot_lines(page, body_size)
        if not foot:
            continue
        foot.sort(key=lambda line: -line.baseline)
        notes: list[str] = []
        for line in foot:
            marker = _footnote_marker(line.text)
            if marker or not notes:
                number = marker or ""
                rest = line.text[len(marker):].lstrip() if marker else line.text
                notes.append(f"{number.translate(SUPERSCRIPT_DIGITS)} {rest}".strip())
            else:
                notes[-1] = _join(notes[-1], line.text, frozenset())
        taken = {id(line) for line in foot}
        page.lines = [line for line in page.lines if id(line) not in taken]
        page.footnotes = notes


def _foot_lines(page: _Page, body_size: float) -> list[_Line]:
    """The lines of a page's footnotes, from its foot up: lines set small (conventionally 8 pt on
    10-12 pt) among which one opens with a note number; or lines set only a size down (10 pt on
    11 pt) whose top line opens with a raised note number, as a word processor sets a footnote."""
    ordered = sorted(page.lines, key=lambda line: line.baseline)
    foot = []
    for line in ordered:
        if line.size > SMALL_RATIO * body_size or line.bullet:
            break
        foot.append(line)
    if foot and any(_footnote_marker(line.text) for line in foot):
        return foot
    foot = []
    for line in ordered:
        if line.size > body_size - SMALLER_POINTS or line.bullet:
            break
        foot.append(line)
    if foot and foot[-1].text[:1] in RAISED_DIGITS:
        return foot
    return []


def _footnote_marker(text: str) -> str:
    match = re.match(r"^([0-9⁰¹²³⁴⁵⁶⁷⁸⁹]{1,3})(?=\s|[A-Z(])", text)
    return match.group(1).translate(str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")) if match else ""


def _vocabulary(pages: list[_Page]) -> frozenset[str]:
    """The words the document writes, hyphenated ones whole: what decides a line-end hyphen."""
    found = set()
    for page in pages:
        for line in page.lines:
            found.update(word.lower() for word in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", line.text))
    return frozenset(found)


def _front_matter(pages: list[_Page], body_size: float, cover: bool) -> tuple[Block | None, str]:
    """A title page as one citable block (title, authors, publisher, date), and the title."""
    first = pages[0]
    if not first.lines:
        return None, ""
    largest = max(line.size for line in first.lines)
    # The title is the first run of lines in the largest size (a title wrapped over lines), not
    # every line of that size: a page of text may hold several headings set as large as its title.
    title_lines: list[str] = []
    for line in first.lines:
        if abs(line.size - largest) < 0.5 and not LEADER_RE.search(line.text):
            title_lines.append(line.text)
        elif title_lines:
            break
    title = " ".join(title_lines)[:300]
    if not cover or first.tables:
        return None, title if largest >= HEADING_SIZE_RATIO * body_size else ""
    lines = [line.text for line in first.lines if not LEADER_RE.search(line.text)]
    first.lines = []  # the title page is this one block
    return Block([("\n".join(lines), first.number)], "front"), title


def _is_heading(line: _Line, body_size: float) -> bool:
    return line.size >= HEADING_SIZE_RATIO * body_size and len(line.text) <= HEADING_MAX_CHARS and not line.bullet


def _page_blocks(page: _Page, body_size: float, pitch: float, vocabulary) -> list[Block]:
    pitch = _page_pitch(page, pitch)
    blocks: list[Block] = []
    previous: _Line | None = None
    right = _column_rights([line for line in page.lines if not _is_heading(line, body_size)])
    tables = sorted(page.tables, key=lambda t: t.first_char)
    for line in page.lines:
        while tables and tables[0].first_char < line.order:
            blocks.extend(_table_blocks(tables.pop(0), page.number, blocks))
            previous = None
        if LEADER_RE.search(line.text):
            previous = None
            if blocks and blocks[-1].kind == "heading" and CONTENTS_HEADING_RE.match(blocks[-1].text):
                blocks.pop()  # the contents' own heading goes with its lines
            continue  # a contents line: navigation, not text
        if _is_heading(line, body_size):
            # A heading wraps onto lines of its own style: an underlined line over one that is not
            # ("APPENDIX 3" over the appendix's title) is a heading of its own.
            if (previous is not None and blocks and blocks[-1].kind == "heading" and abs(previous.size - line.size) < 0.5
                    and not blocks[-1].text.endswith(SENTENCE_END) and 0 < previous.baseline - line.baseline <= 2.2 * line.size
                    and previous.underlined == line.underlined):
                blocks[-1].pieces[-1] = (blocks[-1].pieces[-1][0] + " " + line.text, page.number)  # a wrapped heading
            else:
                blocks.append(Block([(line.text, page.number)], "heading"))
            _note_line(blocks[-1], line, right)
            previous = line
            continue
        if line.bullet:
            meta = {"all_bold": line.emphasised}
            blocks.append(Block([(line.text, page.number)], "item", level=line.bullet_level, meta=meta))
        elif NUMBERED_RE.match(line.text) and (previous is None or _starts_paragraph(previous, line, pitch, blocks[-1], right, body_size)):
            blocks.append(Block([(line.text, page.number)], "item", meta={"numbered": True, "all_bold": line.bold}))
        elif previous is None or blocks[-1].kind == "heading" or _starts_paragraph(previous, line, pitch, blocks[-1], right, body_size):
            blocks.extend(_opening(line, page.number))
        elif _bold_lead(blocks[-1], line):
            blocks[-1] = Block(blocks[-1].pieces, "heading")  # a bold line over the paragraph it heads
            blocks.extend(_opening(line, page.number))
        else:
            text, number = blocks[-1].pieces[-1]
            if text.endswith(";"):  # where a line ending with ";" ends, an unmarked item may end
                blocks[-1].meta.setdefault("semicolon_ends", []).append(len(text))
            blocks[-1].pieces[-1] = (_join(text, line.text, vocabulary), number)
            blocks[-1].meta["all_bold"] = blocks[-1].meta.get("all_bold", False) and line.emphasised
            blocks[-1].meta["lines"] = blocks[-1].meta.get("lines", 1) + 1
        _note_line(blocks[-1], line, right)
        previous = line
    for table in tables:
        blocks.extend(_table_blocks(table, page.number, blocks))
    blocks = _unmarked_lists(_bullets_as_headings([_bold_paragraph_as_heading(block) for block in _numbered_headings(blocks)]))
    blocks += [Block([(note, page.number)], "footnote") for note in page.footnotes]
    return blocks


def _bullets_as_headings(blocks: list[Block]) -> list[Block]:
    """A bold bullet standing alone, no item before or after it, over the paragraphs it heads (a
    project's name set as "• Carers Support" over its account) marks a subheading, not a list."""
    out = []
    for i, block in enumerate(blocks):
        alone = (i == 0 or blocks[i - 1].kind != "item") and (i + 1 == len(blocks) or blocks[i + 1].kind != "item")
        if (block.kind == "item" and alone and block.meta.get("all_bold") and block.meta.get("lines", 1) == 1
                and len(block.text) <= HEADING_MAX_CHARS and not block.text.endswith(SENTENCE_END)
                and i + 1 < len(blocks) and blocks[i + 1].kind == "paragraph"):
            block = Block(block.pieces, "heading")
        out.append(block)
    return out


def _note_line(block: Block, line: _Line, right) -> None:
    """Keep with a block its size (its first line's), and its last line with the right edge that
    line wraps at: what decides whether the block runs on over the page break."""
    block.meta.setdefault("size", line.size)
    block.meta["last"] = (line, right(line))
    block.meta["ends"] = (block.meta.get("ends", ()) + (line.x1,))[-WRAP_LINES:]


def _unmarked_lists(blocks: list[Block]) -> list[Block]:
    """The items of a list printed without bullets: short one-line paragraphs under a lead-in
    ending with ":" ("They include:" / "The need for multiple scenario planning." / …), and
    paragraphs ending with ";" under such a lead-in or such an item, up to the one that ends
    the list with a full stop ("They cover:" / "the use of child rights impact assessments;" /
    … / "and establishing structures to improve communication."), which closes the list."""
    out: list[Block] = []
    for i, block in enumerate(blocks):
        previous = out[-1] if out else None
        opens = previous is not None and previous.kind == "paragraph" and previous.text.endswith(":")
        after_item = previous is not None and previous.kind == "item" and previous.meta.get("unmarked") and not previous.meta.get("closes")
        after_semicolon = after_item and previous.text.endswith(";")
        closes = after_semicolon and block.text.endswith(".")
        ends = block.meta.get("semicolon_ends", ())
        item = False
        if block.kind == "paragraph" and block.meta.get("lines", 1) == 1 and len(block.text) <= ITEM_MAX_CHARS:
            following = blocks[i + 1] if i + 1 < len(blocks) else None
            item = opens and following is not None and following.kind == "paragraph" and following.meta.get("lines", 1) == 1 or after_item
        if block.kind == "paragraph" and not item and len(block.text) <= 2 * ITEM_MAX_CHARS * (1 + len(ends)):
            item = (opens or after_semicolon) and block.text.endswith(";") or closes
            if item and ends and len(block.pieces) == 1:
                # Items ending with ";" one a line: a line ending with ";" ends its item, though
                # the next began too far right of where this one ended to be taken for a new line.
                text, page = block.pieces[0]
                cuts = [0, *ends, len(text)]
                parts = [text[a:b].strip() for a, b in zip(cuts, cuts[1:])]
                if all(0 < len(part) <= 2 * ITEM_MAX_CHARS for part in parts):
                    out.extend(Block([(part, page)], "item", meta={"unmarked": True}) for part in parts[:-1])
                    out.append(Block([(parts[-1], page)], "item", meta={"unmarked": True, "closes": closes}))
                    continue
            item = item and len(block.text) <= 2 * ITEM_MAX_CHARS
        out.append(Block(block.pieces, "item", meta={"unmarked": True, "closes": closes}) if item else block)
    return out


def _numbered_headings(blocks: list[Block]) -> list[Block]:
    """A numbered line set wholly in bold, standing alone between blocks that are no numbered
    items ("11. Training" over its paragraph), is a numbered heading; a run of them is a list."""
    out = list(blocks)
    for i, block in enumerate(blocks):
        if not (block.kind == "item" and block.meta.get("numbered") and block.meta.get("all_bold")):
            continue
        neighbours = blocks[max(0, i - 1) : i] + blocks[i + 1 : i + 2]
        if any(n.kind == "item" and n.meta.get("numbered") for n in neighbours):
            continue
        text = block.text
        if block.meta.get("lines", 1) == 1 and len(text) <= HEADING_MAX_CHARS and not text.endswith((".", ",", ";", ":")):
            out[i] = Block(block.pieces, "heading")
    return out


def _unmarked_lists_across_pages(per_page: list[list[Block]]) -> list[list[Block]]:
    """A list printed without bullets that runs over a page break goes on being a list: the
    page's first paragraphs are read with the previous page's last item before them."""
    out = per_page[:1]
    for blocks in per_page[1:]:
        last = next((b for page in reversed(out) for b in reversed(page) if b.kind != "footnote"), None)
        if last is not None and last.kind == "item" and last.meta.get("unmarked") and blocks:
            blocks = _unmarked_lists([last, *blocks])[1:]
        out.append(blocks)
    return out


def _opening(line: _Line, page: int) -> list[Block]:
    """A paragraph's first line: with a run-in bold heading split off, and a bold line marked."""
    if line.bold_prefix and not line.small and len(line.text[: line.bold_prefix].split()) <= RUN_IN_MAX_WORDS:
        heading, rest = line.text[: line.bold_prefix].strip(), line.text[line.bold_prefix :].strip()
        if rest and heading and (rest[0].isupper() or heading.endswith((":", ".", "–", "-"))):
            return [Block([(heading, page)], "heading", meta={"run_in": True}),
                    Block([(rest, page)], "paragraph", meta={"all_bold": False})]
    box_title = line.box_title and not line.small and not line.beside
    return [Block([(line.text, page)], "paragraph", meta={"all_bold": line.emphasised, "box_title": box_title})]


def _bold_lead(block: Block, line: _Line) -> bool:
    """A paragraph so far one bold (or underlined) line, not ending a sentence, followed by a line
    that is not.

    A next line that opens in lower case continues the bold line's sentence: the bold phrase
    leading a paragraph wrapped ("Improving consideration of … most at risk" / "in an emergency:
    changes should …"), it does not head the paragraph."""
    text = block.text
    return (block.kind == "paragraph" and block.meta.get("all_bold") and block.meta.get("lines", 1) == 1
            and not line.emphasised and len(text) <= HEADING_MAX_CHARS and not text.endswith((".", ",", ";", ":"))
            and not LINK_RE.search(text) and not line.text[:1].islower())


def _bold_paragraph_as_heading(block: Block) -> Block:
    """A short paragraph set wholly in bold (or underlined), not ending a sentence, is a heading (a
    subhead); an underlined web or e-mail address standing alone is a link, not a heading."""
    text = block.text
    titled = block.meta.get("box_title") and block.meta.get("lines", 1) == 1
    if (block.kind == "paragraph" and (block.meta.get("all_bold") or titled) and len(text) <= HEADING_MAX_CHARS
            and not text.endswith((".", ",", ";")) and not LINK_RE.search(text)):
        return Block(block.pieces, "heading", meta=block.meta)
    return block


def _body_line(line: _Line, body_size: float) -> bool:
    return abs(line.size - body_size) < 0.5


def _starts_paragraph(previous: _Line, line: _Line, pitch: float, block: Block, right, body_size: float = 0.0) -> bool:
    step = previous.baseline - line.baseline
    if NUMBERED_RE.match(line.text) or line.box_title:  # text in a box does not run on from the text above it
        return True
    if block.kind == "item" and step > 0 and line.x0 >= previous.x0 - 1 and step <= PARAGRAPH_PITCH_RATIO * max(pitch, 1):
        return False  # a list item's wrapped line
    if step <= 0:  # up to the top of the next column: a new paragraph unless a sentence runs on
        # The next column stands to the right; a line of prose up and to the left is a box set
        # apart (a pull quote printed beside the text), not where the sentence goes on.
        # Nor does it run on in another size at the top of the next column (a box's title).
        return (previous.text.endswith(SENTENCE_END)
                or line.x0 < previous.x0 - PLACE_POINTS and _body_line(previous, body_size) and _body_line(line, body_size)
                or step < -line.size and _body_line(previous, body_size) and abs(previous.size - line.size) >= 1.0)
    if abs(previous.size - line.size) >= 1.0 and not _run_in_other_size(previous, line, step, pitch):
        return True
    if _deliberate_break(previous, line, right(previous)):
        return True
    return step > PARAGRAPH_PITCH_RATIO * pitch


def _column_rights(lines: list[_Line]):
    """The right edge a line wraps at: the farthest a line of prose starting where it starts
    reaches (its column's), else the farthest of the page. A chart's labels or a text box beside
    the column reach past the column's edge, and are not where its lines wrap."""
    farthest: dict[int, float] = {}
    counts: Counter = Counter()
    page_right = max((line.x1 for line in lines), default=0.0)
    for line in lines:
        if len(line.text) < PROSE_LINE_CHARS:
            continue
        key = round(line.x0 / PLACE_POINTS)
        farthest[key] = max(farthest.get(key, 0.0), line.x1)
        counts[key] += 1

    def right(line: _Line) -> float:
        key = round(line.x0 / PLACE_POINTS)
        keys = [k for k in (key - 1, key, key + 1) if k in farthest]
        if sum(counts[k] for k in keys) < COLUMN_MIN_LINES:
            return page_right
        return max(farthest[k] for k in keys)

    return right


def _run_in_other_size(previous: _Line, line: _Line, step: float, pitch: float) -> bool:
    """A line set a little smaller or larger than the one before, at the paragraph's own line
    pitch, is the same paragraph: a link or a quoted name set in another size runs on in its
    sentence ("… the data strategy for health" / "and care (https://www.gov.uk/…) aimed at …").
    A size as small as a footnote's, or a paragraph gap, starts a block of its own."""
    sizes = sorted((previous.size, line.size))
    return sizes[0] >= SMALL_RATIO * sizes[1] and step <= RUN_PITCH_RATIO * pitch


def _deliberate_break(previous: _Line, line: _Line, right: float) -> bool:
    """The writer broke the line, not the wrap: the next line's first word would have fitted on it.

    True of a list printed without bullets, of names one per line, of a paragraph's last line.
    """
    first_word = line.text.split(" ", 1)[0]
    width = (len(first_word) + 1) * AVERAGE_CHAR_WIDTH * line.size
    return previous.x1 + width < right - 1 and (line.text[:1].isupper() or line.text[:1].isdigit() or previous.text.endswith(SENTENCE_END))


def _join(paragraph: str, line: str, vocabulary) -> str:
    """Add a line to its paragraph, joining a word hyphenated across the line end only when it is one word."""
    if paragraph and paragraph[-1] in SOFT_HYPHENS:
        paragraph = paragraph[:-1] + "-"
    match = re.search(r"([A-Za-z]+)-$", paragraph)
    if match and line[:1].islower():
        head = match.group(1)
        tail = re.match(r"[A-Za-z]+", line)
        tail = tail.group(0) if tail else ""
        if _one_word(head, tail, vocabulary):
            return paragraph[:-1] + line
        return paragraph + line  # a real hyphen: "e-" + "survey" is "e-survey"
    return paragraph + " " + line


def _one_word(head: str, tail: str, vocabulary) -> bool:
    joined, hyphened = (head + tail).lower(), f"{head}-{tail}".lower()
    if joined in vocabulary:
        return True
    if hyphened in vocabulary:
        return False
    return joined in _english_words()


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    """pyspellchecker's English word list, where it is installed (else none: hyphens are kept)."""
    try:
        import gzip
        import json
        from importlib.resources import files

        data = json.loads(gzip.decompress((files("spellchecker") / "resources" / "en.json.gz").read_bytes()))
    except (ImportError, OSError, ValueError, ModuleNotFoundError):
        return frozenset()
    return frozenset(data)


def _table_blocks(table: Table, page: int, blocks: list[Block]) -> list[Block]:
    out = []
    caption = table.caption
    if not caption and blocks and blocks[-1].kind in ("paragraph", "heading") and is_caption(blocks[-1].text):
        caption = blocks.pop().text
    if caption:
        out.append(Block([(caption, page)], "heading"))
    header = table.header()
    previous = next((b for b in reversed(blocks) if b.kind == "row"), None)
    if previous is not None and not caption and _continues_table(previous, table):
        # A table cut into parts (a page break, a gap in its rules): this part has no header row
        # of its own, and reads under the first part's.
        header = previous.meta["header"]
        table.header_rows = 0
    rows = table.body_rows()
    for number, row in enumerate(table.row_texts(header)):
        meta = {"header": header, "cells": rows[number] if number < len(rows) else []}
        if number == 0:
            meta["first"] = True
        out.append(Block([(row, page)], "row", meta=meta))
    if out and out[-1].kind == "row" and table.open_end:
        out[-1].meta["open"] = True
    return out


def _continues_table(previous: Block, table: Table) -> bool:
    """A table part whose first row is not a header (it opens with a row label alone, like "Age")
    continues the table before it when they have as many columns."""
    first = table.rows[0]
    header = previous.meta.get("header") or []
    return len(header) == len(first) and bool(first[0]) and not any(first[1:])


def _join_across_pages(per_page: list[list[Block]], pages: list[_Page], vocabulary) -> list[Block]:
    """Blocks of all pages, a paragraph (or list item) running over a page break joined into one.

    The page's footnotes wait until the joined paragraph is complete, so a sentence is never cut
    by the notes of the page it starts on.
    """
    out: list[Block] = []
    waiting: list[Block] = []  # footnotes of the previous page
    for blocks in per_page:
        body = [b for b in blocks if b.kind != "footnote"]
        notes = [b for b in blocks if b.kind == "footnote"]
        row = next((b for b in reversed(out) if b.kind in ("paragraph", "item", "heading", "row")), None)
        previous = None
        if body and row is not None and _row_goes_on(row, body[0]):
            # A row the page break cut: the next page's part (its header repeated) opens with the
            # rest of each of its cells.
            first = body.pop(0)
            cells = [" ".join(c for c in pair if c) for pair in zip(row.meta["cells"], first.meta["cells"])]
            row.pieces = [(table_row_text(row.meta["header"], cells), row.page)]
            row.meta = {**row.meta, "cells": cells, "open": first.meta.get("open", False)}
        elif body:
            previous = _continued(out, body[0])
        if previous is not None:
            first = body.pop(0)
            text, page = previous.pieces[-1]
            joined = _join(text, first.text, vocabulary)
            # The continuation keeps its own page: the join adds " " (or nothing, for a hyphen) to
            # the first part, and the second part starts where the new page begins.
            previous.pieces[-1] = (joined[: len(joined) - len(first.text)], page)
            previous.pieces.append((first.text, first.page))
        out.extend(waiting)
        out.extend(body)
        waiting = notes
    out.extend(waiting)
    return out


def _row_goes_on(previous: Block, first: Block) -> bool:
    """Whether a page's first block, the first row of a table part under the same header, goes on
    with the row that ended the page before without a rule under it."""
    if previous.kind != "row" or first.kind != "row" or not previous.meta.get("open") or not first.meta.get("first"):
        return False
    return previous.meta.get("header") == first.meta.get("header") and len(previous.meta["cells"]) == len(first.meta["cells"])


def _continued(out: list[Block], first: Block) -> Block | None:
    """The block of the previous page that ``first`` (a page's first block) continues, if any.

    That is the page's last block. When ``first`` opens in lower case (a sentence running on), it
    is the page's last block in its size, or else the last one in its size whose last line is as
    full as the lines before it (cut by the page's end, not ended): a layout sets table rows, a
    chart's labels, a box in another size, a pull quote or a quote's attribution after the text
    they interrupt, as tables and text boxes are written."""
    if not out:
        return None
    page = out[-1].pieces[-1][1]
    if not first.text.lstrip()[:1].islower():
        last = out[-1]
        return last if last.kind != "footnote" and _continues(last, first) else None
    for number, block in enumerate(reversed(out)):
        if block.pieces[-1][1] != page or block.kind == "footnote":
            return None
        size, first_size = block.meta.get("size"), first.meta.get("size")
        same_size = size is None or first_size is None or abs(size - first_size) < 0.5
        if not same_size:
            continue
        if _continues(block, first) and (number == 0 or _wrapped_to_the_end(block, first)):
            return block
        if _bracket_mid_sentence(block, first) and _wrapped_to_the_end(block, first):
            return block  # "… or physical health and mental health issues (n=36)" / "were slightly more common"
    return None


def _bracket_mid_sentence(block: Block, first: Block) -> bool:
    """A paragraph whose last line, a line of prose, ends in a closing bracket with no sentence
    ended inside it or before it ("… and mental health issues (n=36)"); a quote's attribution
    ('… the accounts.” (sole trader, using the trial software)') closes its paragraph."""
    text = block.text.rstrip()
    last = (block.meta.get("last") or (None, 0.0))[0]
    if block.kind not in ("paragraph", "item") or first.kind != "paragraph" or not text.endswith(")"):
        return False
    before = text[: text.rfind("(")].rstrip() if "(" in text else text
    return (not text[:-1].rstrip().endswith(SENTENCE_END) and not before.endswith(SENTENCE_END + ("”", '"'))
            and last is not None and len(last.text) >= PROSE_LINE_CHARS)


def _wrapped_to_the_end(block: Block, first: Block) -> bool:
    """A block of wrapped lines whose last line reaches as far as the lines before it, less the
    next page's first word: the lines wrap at one edge (the column's, or a box's beside them)
    and the page ended the last, not the sentence."""
    ends = block.meta.get("ends") or ()
    if len(ends) < 2:
        return False
    return _last_line_full(block, first, max(ends[:-1]))


def _last_line_full(block: Block, first: Block, right: float | None = None) -> bool:
    """Whether the next page's first word would not have fitted on the block's last line (before
    ``right``, else the right edge of the last line's column)."""
    last, column_right = block.meta.get("last") or (None, 0.0)
    if last is None:
        return False
    first_word = first.text.split(" ", 1)[0]
    return last.x1 + (len(first_word) + 1) * AVERAGE_CHAR_WIDTH * last.size >= (column_right if right is None else right) - 1


def _continues(previous: Block, first: Block) -> bool:
    if previous.kind not in ("paragraph", "item") or first.kind != "paragraph":
        return False
    text = previous.text.rstrip()
    if not text or text.endswith(SENTENCE_END) or text[-1] in "”\")":
        return False
    start = first.text.lstrip()[:1]
    return start.islower() or text.endswith(("-", ",")) or text[-1] in SOFT_HYPHENS or _runs_full(previous, first)


def _runs_full(previous: Block, first: Block) -> bool:
    """A paragraph of wrapped lines whose last line on the page is full (the next page's first
    word would not have fitted on it), continued by a paragraph in its size: the sentence runs on
    over the page break though the next word is capitalised ("… and the Care" / "Quality Commission")."""
    if previous.kind != "paragraph" or previous.meta.get("lines", 1) < 2:
        return False
    if abs(previous.meta.get("size", 0.0) - first.meta.get("size", -1.0)) >= 0.5:
        return False
    return _last_line_full(previous, first)


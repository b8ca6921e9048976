"""The documents of a loaded index: spans of their stored text, paragraphs for the document view,
and, for PDFs, rendered pages and the boxes of a quote's characters on them.

Every lookup goes through the manifest: a request names a ``doc_id``, and only a document the
manifest lists is found; the file read for a PDF page is the corpus file that document's record
names, under the corpus folder. No value from a request is ever part of a path.
"""

from __future__ import annotations

import bisect
import difflib
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..corpus import file_sha256
from ..errors import PdqaError
from ..models import CorpusFileInfo, DocumentInfo, Manifest

# pdfium is not thread-safe: every call into it, from any request, takes this lock.
PDFIUM_LOCK = threading.Lock()
PAGE_SCALES = (0.5, 4.0)
DEFAULT_PAGE_SCALE = 1.5
RENDER_CACHE_SIZE = 24
VIEW_WINDOW_CHARS = 30_000  # the document view shows this much text on each side of a quote
HEADING_RE = re.compile(r"^(#{1,6})\s+(.*)$", re.S)
# Left out when a quote is matched with a page's characters: pdfium's marks for a hyphen at a line
# end, soft hyphens, and hyphens and dashes themselves (the reader joins some words broken at a
# line end and keeps others, so a hyphen may be on one side only).
INVISIBLE = frozenset({"\ufffe", "\x02", "\u00ad", "\ufeff", "-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014"})


class UnknownDocument(PdqaError):
    """No document of the index has this id."""

    hint = "The list of documents (GET /v1/documents, or the MCP tool list_documents) gives their ids."


class BadSpan(PdqaError):
    """A requested span does not lie inside its document."""

    hint = "Give start and end as character offsets of the stored text, within the document's own start and end."


class NotAPdf(PdqaError):
    """Pages were asked of a document that is not a PDF, or a page it does not have."""

    hint = "Only PDF documents have pages; the list of documents gives each one's format and pages."


class SourceChanged(PdqaError):
    """The corpus file differs from the one the index was built from, so its pages may not match."""

    hint = "Run `pdqa index build` so the index matches the corpus again."


@dataclass(frozen=True)
class Document:
    """A document and the record of its file, as the manifest has them."""

    info: DocumentInfo
    file: CorpusFileInfo

    @property
    def doc_id(self) -> str:
        return self.info.doc_id

    @property
    def is_pdf(self) -> bool:
        return self.file.format == "pdf"

    def summary(self) -> dict:
        """The document as GET /v1/documents lists it."""
        return {
            **self.info.model_dump(),
            "format": self.file.format,
            "pages": self.file.pages,
            "chars": self.info.end - self.info.start,
        }


def documents_of(manifest: Manifest) -> dict[str, Document]:
    """The manifest's documents by id, each with its file's record."""
    files = {f.path: f for f in manifest.corpus_files}
    return {d.doc_id: Document(d, files[d.path]) for d in manifest.documents if d.path in files}


def documents_for(loaded) -> dict[str, Document]:
    """The documents of a loaded QA's manifest, made once and kept with it."""
    found = getattr(loaded, "_documents", None)
    if found is None:
        found = loaded._documents = documents_of(loaded.manifest)
    return found


def find_document(loaded, doc_id: str) -> Document:
    """The document ``doc_id`` names in the loaded index's manifest, or UnknownDocument.

    The id is only ever a key of that dictionary: it never becomes part of a path.
    """
    found = documents_for(loaded).get(doc_id) if isinstance(doc_id, str) else None
    if found is None:
        shown = doc_id if isinstance(doc_id, str) and len(doc_id) <= 80 and doc_id.isprintable() else "that id"
        raise UnknownDocument(f"no document {shown!r} in the index")
    return found


def checked_span(document: Document, start: int | None, end: int | None) -> tuple[int, int]:
    """``start``/``end`` (default: the whole document), checked to lie inside the document."""
    low, high = document.info.start, document.info.end
    start = low if start is None else start
    end = high if end is None else end
    if not (low <= start <= end <= high):
        raise BadSpan(f"characters {start}–{end} are not inside document {document.doc_id!r} ({low}–{high})")
    return start, end


def page_at(file: CorpusFileInfo, offset: int) -> int | None:
    """The 1-based PDF page whose text holds ``offset`` (None for other formats)."""
    if not file.page_map:
        return None
    starts = [start for start, _ in file.page_map]
    return file.page_map[max(bisect.bisect_right(starts, offset) - 1, 0)][1]


def page_spans(file: CorpusFileInfo, start: int, end: int, text_length: int) -> list[tuple[int, int, int]]:
    """(page, start, end) of the parts of ``start``–``end`` on each page it crosses."""
    if not file.page_map:
        return []
    bounds = list(file.page_map) + [(text_length, None)]
    spans = []
    for (page_start, page), (next_start, _) in zip(bounds, bounds[1:]):
        low, high = max(start, page_start), min(end, next_start)
        if low < high or (low == high == start and page_start <= start < next_start):
            spans.append((page, low, high))
    return spans


def text_span(loaded, doc_id: str, start: int | None, end: int | None) -> dict:
    """The stored text of a document or a span of it, with its page and section."""
    document = find_document(loaded, doc_id)
    start, end = checked_span(document, start, end)
    text = loaded.index.text_of(document.info.path)
    return {"doc_id": document.doc_id, "title": document.info.title, "path": document.info.path,
            "start": start, "end": end, "text": text[start:end], "page": page_at(document.file, start),
            "section": sections_of(loaded).section_at(document.info.path, start)}


# ---------------------------------------------------------------- sections and paragraphs


class Sections:
    """Where each chunk of each file starts and its section title: the heading over any offset.

    Made once per loaded index, on the first document view, from the chunk store.
    """

    def __init__(self, index):
        by_path: dict[str, list[tuple[int, int, str]]] = {}
        for position in range(index.chunk_count):
            chunk = index.chunk(position)
            by_path.setdefault(chunk.path, []).append((chunk.start, chunk.end, chunk.section))
        for spans in by_path.values():
            spans.sort()
        self._spans = by_path
        self._starts = {path: [s for s, _, _ in spans] for path, spans in by_path.items()}
        self.titles = {path: {title for _, _, title in spans if title} for path, spans in by_path.items()}

    def section_at(self, path: str, offset: int) -> str:
        """The section title of the chunk holding ``offset`` ('' when none)."""
        starts = self._starts.get(path)
        if not starts:
            return ""
        at = bisect.bisect_right(starts, offset) - 1
        return self._spans[path][at][2] if at >= 0 else ""


_SECTIONS_LOCK = threading.Lock()


def sections_of(loaded) -> Sections:
    """The Sections of a loaded QA, made on first use and kept with it."""
    found = getattr(loaded, "_sections", None)
    if found is None:
        with _SECTIONS_LOCK:
            found = getattr(loaded, "_sections", None)
            if found is None:
                found = Sections(loaded.index)
                loaded._sections = found
    return found


@dataclass
class Segment:
    text: str
    marked: bool = False
    first_mark: bool = False


@dataclass
class Paragraph:
    """A block of the document view: a heading or a paragraph, in pieces, the quote's marked."""

    kind: str  # "heading" or "paragraph"
    level: int
    start: int
    end: int
    segments: list[Segment]

    @property
    def holds_mark(self) -> bool:
        return any(s.marked for s in self.segments)


@dataclass
class View:
    """What the document view shows: the text around a quote, split into paragraphs."""

    document: Document
    start: int
    end: int
    quote: str
    section: str
    page: int | None
    paragraphs: list[Paragraph]
    cut_before: bool
    cut_after: bool


def document_view(loaded, document: Document, start: int | None, end: int | None,
                  window: int = VIEW_WINDOW_CHARS) -> View:
    """The paragraphs of ``document`` around ``start``–``end``, the span marked in them.

    Paragraphs are the blocks between blank lines of the stored text; a block that starts with
    "#" (how the readers write headings) or is one of the file's section titles is a heading.
    """
    text = loaded.index.text_of(document.info.path)
    start, end = checked_span(document, start, end)
    quoting = (start, end) != (document.info.start, document.info.end)
    if not quoting:
        start = end = document.info.start
    low = max(document.info.start, start - window)
    high = min(document.info.end, end + window)
    titles = sections_of(loaded).titles.get(document.info.path, set())
    paragraphs = []
    for block_start, block_end in _blocks(text, document.info.start, document.info.end):
        if block_end <= low or block_start >= high:
            continue
        paragraphs.append(_paragraph(text, block_start, block_end, start, end, titles))
    section = sections_of(loaded).section_at(document.info.path, start) if quoting else ""
    return View(document, start, end, text[start:end], section, page_at(document.file, start), paragraphs,
                cut_before=paragraphs and paragraphs[0].start > document.info.start,
                cut_after=paragraphs and paragraphs[-1].end < document.info.end)


_BLOCK_BREAK = re.compile(r"\n[ \t]*\n\s*")


def _blocks(text: str, start: int, end: int):
    """(start, end) of each block of ``text[start:end]`` between blank lines, without the breaks."""
    position = start
    for found in _BLOCK_BREAK.finditer(text, start, end):
        if found.start() > position:
            yield _trimmed(text, position, found.start())
        position = found.end()
    if end > position:
        yield _trimmed(text, position, end)


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _paragraph(text: str, start: int, end: int, mark_start: int, mark_end: int, titles: set[str]) -> Paragraph:
    block = text[start:end]
    heading = HEADING_RE.match(block)
    if heading and "\n" not in block:
        level, shown_from = len(heading.group(1)), start + heading.start(2)
        kind = "heading"
    elif block in titles and "\n" not in block:
        level, shown_from, kind = 2, start, "heading"
    else:
        level, shown_from, kind = 0, start, "paragraph"
    segments = []
    low, high = max(mark_start, shown_from), min(mark_end, end)
    if mark_end > mark_start and low < high:
        for piece, marked in ((text[shown_from:low], False), (text[low:high], True), (text[high:end], False)):
            if piece:
                segments.append(Segment(piece, marked, marked and low == mark_start))
    else:
        segments.append(Segment(text[shown_from:end]))
    if kind == "heading":
        level = min(max(level + 1, 2), 6)  # the document's own title is an h1 of the page
    return Paragraph(kind, level, start, end, segments)


# ---------------------------------------------------------------- PDF pages


def source_file(settings, document: Document) -> Path:
    """The corpus file of a document, checked against the manifest's record of it.

    Raises:
        SourceChanged: The file is gone or differs (size and time, then sha256) from the one indexed.
    """
    relative = PurePosixPath(document.file.path)
    if relative.is_absolute() or ".." in relative.parts:
        raise SourceChanged(f"the index names an unusable corpus path for {document.doc_id!r}")
    path = Path(settings.corpus_dir) / Path(*relative.parts)
    try:
        stat = path.stat()
    except OSError:
        raise SourceChanged(f"the corpus file {document.file.path} of {document.doc_id!r} is gone") from None
    unchanged = (stat.st_size, stat.st_mtime_ns) == (document.file.size, document.file.mtime_ns)
    if not unchanged and _hash(path, stat) != document.file.sha256:
        raise SourceChanged(f"{document.file.path} changed since the index was built; its pages may not match the stored text")
    return path


_HASHES: OrderedDict = OrderedDict()


def _hash(path: Path, stat) -> str:
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    found = _HASHES.get(key)
    if found is None:
        found = _HASHES[key] = file_sha256(path)
        while len(_HASHES) > 64:
            _HASHES.popitem(last=False)
    return found


def check_page(document: Document, page: int) -> None:
    if not document.is_pdf:
        raise NotAPdf(f"{document.doc_id!r} is a {document.file.format} document, not a PDF")
    if not 1 <= page <= (document.file.pages or 0):
        raise NotAPdf(f"{document.doc_id!r} has no page {page} (it has {document.file.pages})")


_RENDERED: OrderedDict = OrderedDict()


def render_page(settings, document: Document, page: int, scale: float = DEFAULT_PAGE_SCALE) -> bytes:
    """PNG of one page of a PDF document, rendered by pdfium (kept for the last few pages asked)."""
    import io

    import pypdfium2 as pdfium

    check_page(document, page)
    path = source_file(settings, document)
    key = (document.file.sha256, page, scale)
    with PDFIUM_LOCK:
        found = _RENDERED.get(key)
        if found is not None:
            _RENDERED.move_to_end(key)
            return found
        pdf = pdfium.PdfDocument(str(path))
        try:
            bitmap = pdf[page - 1].render(scale=scale)
            image = bitmap.to_pil()
        finally:
            pdf.close()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        png = _RENDERED[key] = out.getvalue()
        while len(_RENDERED) > RENDER_CACHE_SIZE:
            _RENDERED.popitem(last=False)
        return png


@dataclass
class PageBoxes:
    """The boxes of a quote's characters on one page, in PDF points from the page's top left."""

    page: int
    width: float
    height: float
    boxes: list[tuple[float, float, float, float]]  # (x, y, width, height)
    exact: bool


def quote_boxes(settings, loaded, document: Document, start: int, end: int) -> list[PageBoxes]:
    """Where the characters of ``stored_text[start:end]`` are on the pages of the PDF.

    The stored text is the reader's layout of the page's characters (lines joined, hyphens at
    line ends removed), so the quote is looked for in pdfium's text of each page it crosses with
    spaces, line breaks and hyphen marks left out on both sides; the occurrence taken is the one
    whose rank among equal passages of the page matches the quote's. When the reader put the
    page's text in another order than pdfium, the longest matching runs are used (``exact`` false).
    """
    import pypdfium2 as pdfium

    if not document.is_pdf:
        raise NotAPdf(f"{document.doc_id!r} is a {document.file.format} document, not a PDF")
    start, end = checked_span(document, start, end)
    text = loaded.index.text_of(document.info.path)
    spans = page_spans(document.file, start, end, len(text))
    path = source_file(settings, document)
    results = []
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(str(path))
        try:
            for page_number, low, high in spans:
                page_start = next(o for o, p in document.file.page_map if p == page_number)
                results.append(_page_boxes(pdf, page_number, text, page_start, low, high))
        finally:
            pdf.close()
    return results


def _page_boxes(pdf, page_number: int, text: str, page_start: int, low: int, high: int) -> PageBoxes:
    page = pdf[page_number - 1]
    textpage = page.get_textpage()
    try:
        # get_bbox is the box pdfium renders (CropBox, inherited boxes resolved); get_cropbox
        # falls back to US Letter when the page inherits its MediaBox.
        left, bottom, right, top = page.get_bbox()
        rotation = page.get_rotation() % 360
        page_text = textpage.get_text_range()
        page_keys, where = _keyed(page_text)
        quote_keys, _ = _keyed(text[low:high])
        width, height = _rotated_size(right - left, top - bottom, rotation)
        if not quote_keys:
            return PageBoxes(page_number, round(width, 2), round(height, 2), [], True)
        before_keys, _ = _keyed(text[page_start:low])
        rank = before_keys.count(quote_keys) if len(quote_keys) > 3 else 0
        found = _nth(page_keys, quote_keys, rank)
        if found >= 0:
            indexes, exact = [(where[found], where[found + len(quote_keys) - 1])], True
        else:
            indexes, exact = _partial_runs(page_keys, quote_keys, where, page_text), False
        boxes = []
        for first, last in indexes:
            for i in range(textpage.count_rects(first, last - first + 1)):
                x0, y0, x1, y1 = textpage.get_rect(i)
                box = _rotated((x0 - left, top - y1, x1 - x0, y1 - y0), right - left, top - bottom, rotation)
                boxes.append(tuple(round(v, 2) for v in box))
        return PageBoxes(page_number, round(width, 2), round(height, 2), boxes, exact)
    finally:
        textpage.close()
        page.close()


def _rotated_size(width: float, height: float, rotation: int) -> tuple[float, float]:
    return (height, width) if rotation in (90, 270) else (width, height)


def _rotated(box, width: float, height: float, rotation: int):
    """A box (x, y, w, h from the unrotated page's top left) on the page as displayed (turned clockwise)."""
    x, y, w, h = box
    if rotation == 90:
        return (height - y - h, x, h, w)
    if rotation == 180:
        return (width - x - w, height - y - h, w, h)
    if rotation == 270:
        return (y, width - x - w, h, w)
    return box


def _keyed(text: str) -> tuple[str, list[int]]:
    """The characters of ``text`` that count for matching (NFKC, case-folded, no spaces or hyphen
    marks), and the index in ``text`` each came from."""
    keys, where = [], []
    for i, ch in enumerate(text):
        if ch.isspace() or ch in INVISIBLE:
            continue
        for key in unicodedata.normalize("NFKC", ch).casefold():
            if not key.isspace():
                keys.append(key)
                where.append(i)
    return "".join(keys), where


def _nth(haystack: str, needle: str, n: int) -> int:
    """Where the ``n``-th (0-based) occurrence of ``needle`` is; the last one when there are fewer."""
    found = haystack.find(needle)
    for _ in range(n):
        following = haystack.find(needle, found + 1)
        if found < 0 or following < 0:
            break
        found = following
    return found


def _partial_runs(page_keys: str, quote_keys: str, where: list[int], page_text: str) -> list[tuple[int, int]]:
    matcher = difflib.SequenceMatcher(None, page_keys, quote_keys, autojunk=False)
    runs = []
    for block in matcher.get_matching_blocks():
        if block.size >= 4:
            runs.append((where[block.a], where[block.a + block.size - 1]))
    runs.sort()
    merged: list[list[int]] = []
    for first, last in runs:
        gap = page_text[merged[-1][1] + 1 : first] if merged else None
        if merged and (first <= merged[-1][1] + 1 or (gap is not None and not gap.strip())):
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(first, last) for first, last in merged]

"""Chunking stage: documents → structure-aware chunks and answer-sized units with exact offsets.

The text is read as lines and grouped into blocks: headings (kept as section metadata and as
short chunks of their own, so a title can be found), paragraphs, bullets, lists, table rows,
footnotes and title pages. A list keeps its lead-in ("The importance of:") with its items, and a
sentence announcing "the following" list is kept with that list, so a list question is answered
from one chunk; each item is a unit of its own. Each table row is a unit ("Header: value; …"),
under the table's caption; a footnote and a title page are one unit each.

Headings are the lines the reader marked with "#" (Markdown, and every document a reader turned
into text); only in plain text, which has no marks, is a short line without a full stop taken
for a heading. Offsets always point into the stored file: ``file_text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .corpus import Corpus, load_corpus
from .models import Chunk, DocumentInfo, Unit
from .settings import CorpusSettings
from .readers.layout import is_caption
from .text import BULLET_MARKS, BULLET_RE

CHUNKER_NAME = "pdqa-structure-v1"
_CODE_SHA256 = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
HEADING_MAX_CHARS = 120
SHORT_ITEM_MAX_CHARS = 120
# Titles and abbreviations after which a full stop does not end a sentence.
ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "prof", "st", "no", "vs", "etc", "e.g", "i.e", "cf", "fig"}
# One more than the longest abbreviation: `$` also matches before a newline ending the window.
_ABBREVIATION_WINDOW = max(len(a) for a in ABBREVIATIONS) + 1
_WORD_BEFORE_RE = re.compile(r"([\w.]+)$")
# A list item lettered or numbered in brackets, as Word's numbering writes it out: "(a) ", "(iv) ",
# "(3) ", "b) ". Like "1." and "•" (BULLET_RE), the marker opens an item and is not part of its unit.
# So is a letter or a lower-case Roman numeral with a full stop, before a word: "b. ", "iv. ".
LETTERED_ITEM_RE = re.compile(
    r"^([ \t\u00a0]*)(\((?:[a-z]|[ivxlc]{1,6}|\d{1,3})\)|[a-z]\)|(?:[a-z]|x{0,3}(?:ix|iv|v?i{1,3}|v))\.(?=[ \t\u00a0]+[^\W\d_]))[ \t\u00a0]+"
)
# A clause number opening a line ("5.1.2 The Standing Orders …", "2.3 The board …"): a numbered
# paragraph, not a list item, and never the wrapped line of the item before it.
CLAUSE_RE = re.compile(r"^[ \t\u00a0]*\d{1,3}(?:\.\d{1,3})+\.?[ \t\u00a0]+(?=[A-Z])")
# A bullet opening an item inside a table cell: at the cell's start or after the item before.
CELL_BULLET_RE = re.compile(r"(?:^|(?<=[ ;:]))[" + re.escape(BULLET_MARKS) + r"][ \t\u00a0]+")
SENTENCE_END_RE = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'‘“(•]?[A-Z0-9])")


@dataclass
class _Line:
    start: int  # offset of the first content character (after indent and bullet marker)
    end: int  # offset after the last non-space character
    indent: int
    bullet: bool
    region: str | None = None  # "table", "footnote" or "front": what the reader said the line is
    marked: bool = False  # the reader marked it as a heading ("#")


@dataclass
class _Block:
    kind: str  # "heading", "paragraph", "bullet", "table", "footnote", "front"
    lines: list[_Line]
    items: list[_Line] = field(default_factory=list)  # indented sub-items of a bullet

    @property
    def start(self) -> int:
        return self.lines[0].start

    @property
    def end(self) -> int:
        return (self.items or self.lines)[-1].end


def chunker_params(max_chars: int) -> dict[str, int | str]:
    """The parameters recorded in the index manifest; a change makes the index stale.

    The hash of this module's source is included so that a change to the chunking rules
    invalidates indexes built with the old rules, without anyone remembering to bump a version
    (the readers' hash is recorded beside it, in the manifest).
    """
    return {"name": CHUNKER_NAME, "max_chars": max_chars, "code_sha256": _CODE_SHA256[:16]}


def chunk_corpus(corpus: Corpus, max_chars: int) -> tuple[list[Chunk], list[Unit]]:
    """Split every document of the corpus into chunks and units.

    Args:
        corpus: The loaded corpus.
        max_chars: Longest chunk; longer blocks are split at sentence boundaries (tables at rows).

    Returns:
        The chunks in corpus order, and the units (sentences, list items, rows, ...) in the same order.
    """
    chunks: list[Chunk] = []
    for document in corpus.documents:
        extracted = corpus.file(document.path).extracted
        chunks.extend(chunk_document(extracted.text, document, max_chars, extracted.regions,
                                     guess_headings=extracted.format == "text"))
    chunks = [_with_page(corpus, chunk) for chunk in chunks]
    units: list[Unit] = []
    for chunk in chunks:
        file_text = corpus.file(chunk.path).extracted.text
        units.extend(_with_page(corpus, unit, chunk.path) for unit in units_of(chunk, len(units), file_text))
    return chunks, units


def _with_page(corpus: Corpus, record, path: str | None = None):
    """The chunk or unit with the page it starts on and its printed label (PDF files; None elsewhere)."""
    extracted = corpus.file(path or record.path).extracted
    page = extracted.page_at(record.start)
    if page is None:
        return record
    return record.model_copy(update={"page": page, "page_label": extracted.label_of(page)})


def chunk_document(
    file_text: str,
    document: DocumentInfo,
    max_chars: int,
    regions: tuple[tuple[int, int, str], ...] = (),
    guess_headings: bool = True,
) -> list[Chunk]:
    """Chunk one document, whose text is ``file_text[document.start:document.end]``.

    Args:
        file_text: The stored text of the document's file.
        document: The document (its span of the file).
        max_chars: Longest chunk.
        regions: (start, end, kind) spans the reader marked as table rows, footnotes or a title page.
        guess_headings: Take short lines without a full stop for headings (plain text, which has no marks).
    """
    lines = _read_lines(file_text, document.start, document.end, regions)
    blocks = _merge_leadins(file_text, _group_blocks(file_text, lines, guess_headings))
    chunks: list[Chunk] = []
    section, heading = "", None
    outer: str | None = None  # the section a caption ("Table 2: …") interrupts, for the text after its table
    for group in blocks:
        if group[0].kind == "heading":
            if heading is not None:  # two headings in a row: the first stands alone
                chunks.append(_make_chunk(file_text, document, section, heading.start, heading.end, [heading]))
            text = file_text[group[0].start : group[0].end]
            if is_caption(text):
                outer = section if outer is None else outer
            else:
                outer = None
            section, heading = text, group[0]
            continue
        if group[0].kind in ("footnote", "front"):  # notes and title pages stand apart from any heading
            for block in group:
                chunks.append(_make_chunk(file_text, document, section, block.start, block.end, [block]))
            continue
        # A heading opens the chunk that follows it, so it never competes as a bare chunk.
        start = heading.start if heading is not None else group[0].start
        heading = None
        fit = _fit_lines if group[0].kind == "table" else _fit
        for piece_start, end in fit(file_text, start, group[-1].end, max_chars):
            chunks.append(_make_chunk(file_text, document, section, piece_start, end, group))
        if outer is not None:  # a caption heads its table only: the text after it is the section's again
            section, outer = outer, None
    if heading is not None:
        chunks.append(_make_chunk(file_text, document, section, heading.start, heading.end, [heading]))
    return chunks


def units_of(chunk: Chunk, start_id: int = 0, file_text: str | None = None) -> list[Unit]:
    """Split a chunk into answer-sized units: its heading, its sentences, each list item, each
    table row; a footnote or a title page whole. ``file_text``, the stored text of the chunk's
    file, shows whether a chunk opens with a list item (its marker is left out of the chunk)."""
    spans: list[tuple[int, int, str]] = []
    text_start = chunk.start
    if _opens_with_heading(chunk):
        text_start = chunk.start + len(chunk.section)
        spans.append((chunk.start, text_start, "heading"))
    body = chunk.text[text_start - chunk.start :]
    if chunk.kind == "table":
        for s, e in _line_spans(body):
            spans.append((text_start + s, text_start + e, "row"))
            spans += [(text_start + s + a, text_start + s + b, "item") for a, b in _cell_items(body[s:e])]
    elif chunk.kind == "footnote":
        spans += [_trim(chunk.text, 0, len(chunk.text), chunk.start) + ("footnote",)]
    elif chunk.kind == "front":
        spans += [_trim(chunk.text, 0, len(chunk.text), chunk.start) + ("sentence",)]
    else:
        list_start = _list_start(chunk, file_text)
        text_end = chunk.end if list_start is None else list_start
        prose = chunk.text[text_start - chunk.start : text_end - chunk.start]
        spans += [(start, end, "sentence") for start, end in split_sentences(prose, text_start)]
        if list_start is not None:
            spans += _item_spans(chunk, list_start)
    return [
        Unit(
            unit_id=start_id + i,
            chunk_id=chunk.chunk_id,
            start=start,
            end=end,
            text=chunk.text[start - chunk.start : end - chunk.start],
            kind=kind,
        )
        for i, (start, end, kind) in enumerate(spans)
        if end > start
    ]


def _cell_items(row: str) -> list[tuple[int, int]]:
    """(start, end) of each bulleted item of a list inside a row's cells ("Segment: The meticulous;
    Needs: • Further advice • Greater specificity"): an item of its own as well as part of its row,
    ending at the next bullet or at the end of its cell ("; ")."""
    marks = [m.end() for m in CELL_BULLET_RE.finditer(row)]
    items = []
    for start in marks:
        end = CELL_BULLET_RE.search(row, start)
        end = end.start() if end else len(row)
        cell_end = row.find("; ", start, end)
        end = cell_end if cell_end >= 0 else end
        span = _trim(row, start, end, 0)
        if span[1] > span[0]:
            items.append(span)
    return items


def _line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each non-blank line of ``text``, spaces trimmed."""
    spans, position = [], 0
    for line in text.splitlines(keepends=True):
        content = line.rstrip("\r\n")
        if content.strip():
            lead = len(content) - len(content.lstrip())
            spans.append((position + lead, position + len(content.rstrip())))
        position += len(line)
    return spans


def _item_spans(chunk: Chunk, list_start: int) -> list[tuple[int, int, str]]:
    """The list part of a list chunk as units: a lead-in line ending with ":" is a sentence, each
    item (a bullet line, or a line indented under the lead-in) an item, a wrapped line part of its item."""
    spans: list[list] = []
    offset = list_start - chunk.start
    lead_indent: int | None = None
    lines = chunk.text[offset:].splitlines(keepends=True)
    for number, line in enumerate(lines):
        content = line.rstrip("\r\n")
        if content.strip():
            bullet = _item_mark(content)
            indent = len(content) - len(content.lstrip())
            lead = bullet.end() if bullet else indent
            start, end = chunk.start + offset + lead, chunk.start + offset + len(content.rstrip())
            more = any(later.strip() for later in lines[number + 1 :])
            if content.rstrip().endswith(":") and more:
                spans.append([start, end, "sentence"])  # a lead-in announcing the items under it
                lead_indent = indent
            elif not bullet and CLAUSE_RE.match(content) and spans:
                line_start = chunk.start + offset
                spans += [[a, b, "sentence"] for a, b in split_sentences(content, line_start)]
                lead_indent = indent
            elif bullet or not spans or (lead_indent is not None and indent > lead_indent) or spans[-1][2] == "sentence":
                spans.append([start, end, "item"])
            else:
                spans[-1][1] = end  # a wrapped line of the item before
        offset += len(line)
    return [(start, end, kind) for start, end, kind in spans]


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Return (start, end) of each sentence of ``text``, shifted by ``offset``, spaces trimmed."""
    spans, start = [], 0
    for match in SENTENCE_END_RE.finditer(text):
        if _is_abbreviation(text, match.start()):
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return [_trim(text, s, e, offset) for s, e in spans if text[s:e].strip(" \t\n\u00a0" + BULLET_MARKS)]


def _is_abbreviation(text: str, dot: int) -> bool:
    # Look back only as far as the longest abbreviation: searching all of text[:dot] made
    # splitting quadratic in the length of a paragraph. A word that reaches the window's edge
    # and goes on to its left is longer than any abbreviation.
    window_start = max(0, dot - _ABBREVIATION_WINDOW)
    word = _WORD_BEFORE_RE.search(text, window_start, dot)
    if not word or text[dot] != ".":
        return False
    if word.start() == window_start > 0 and _WORD_BEFORE_RE.match(text, window_start - 1, window_start):
        return False
    word = word.group(1)
    # An initial ("N. Tyneside", "J. Smith") or a title ("Dr.") does not end a sentence.
    return word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isupper())


def _item_mark(line: str):
    """The marker opening a list item's line ("• ", "3. ", "(a) "), or None."""
    return BULLET_RE.match(line) or LETTERED_ITEM_RE.match(line)


def _trim(text: str, start: int, end: int, offset: int) -> tuple[int, int]:
    # Bullet marks belong to the layout, not to the sentence a citation quotes.
    while start < end and (text[start].isspace() or text[start] in BULLET_MARKS):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in BULLET_MARKS):
        end -= 1
    return start + offset, end + offset


def _read_lines(file_text: str, start: int, end: int, regions=()) -> list[_Line | None]:
    """Content lines of a region; None marks a blank line."""
    lines: list[_Line | None] = []
    position = start
    region_starts = [r[0] for r in regions]
    for raw in file_text[start:end].splitlines(keepends=True):
        content = raw.rstrip("\r\n")
        region = _region_at(regions, region_starts, position + len(content) - len(content.lstrip()))
        bullet = None if region in ("table", "footnote", "front") else _item_mark(content)
        marks = len(content) - len(content.lstrip(" \t\u00a0#"))
        marked = content.lstrip(" \t\u00a0").startswith("#") and region is None
        skip = bullet.end() if bullet else (marks if marked else len(content) - len(content.lstrip(" \t\u00a0")))
        stripped_end = len(content.rstrip())
        if stripped_end <= skip:
            lines.append(None)
        else:
            indent = len(content) - len(content.lstrip(" \t\u00a0"))
            lines.append(_Line(position + skip, position + stripped_end, indent, bool(bullet), region, marked))
        position += len(raw)
    return lines


def _region_at(regions, starts: list[int], offset: int) -> str | None:
    from bisect import bisect_right

    at = bisect_right(starts, offset) - 1
    if at >= 0 and regions[at][0] <= offset < regions[at][1]:
        return regions[at][2]
    return None


def _group_blocks(file_text: str, lines: list[_Line | None], guess_headings: bool = True) -> list[_Block]:
    blocks: list[_Block] = []
    previous: _Line | None = None
    for line in lines:
        if line is None:
            previous = None
        elif line.region is not None:
            same = blocks and previous is not None and blocks[-1].kind == line.region and line.region != "footnote"
            if same:
                blocks[-1].lines.append(line)
            else:
                blocks.append(_Block(line.region, [line]))
        elif line.bullet:
            blocks.append(_Block("bullet", [line]))
        elif blocks and previous is not None and blocks[-1].kind == "bullet" and (
            line.indent > blocks[-1].lines[0].indent or blocks[-1].items
        ):
            blocks[-1].items.append(line)
        elif blocks and previous is not None and blocks[-1].kind == "paragraph" and not line.marked:
            blocks[-1].lines.append(line)
        else:
            blocks.append(_Block("paragraph", [line]))
        previous = line
    for block in blocks:
        if _looks_like_heading(file_text, block, guess_headings):
            block.kind = "heading"
    return blocks


def _looks_like_heading(file_text: str, block: _Block, guess: bool) -> bool:
    if block.kind != "paragraph" or len(block.lines) != 1:
        return False
    if block.lines[0].marked:
        return True
    text = file_text[block.start : block.end]
    return guess and len(text) <= HEADING_MAX_CHARS and text[-1] not in ".!?:;,"


def _merge_leadins(file_text: str, blocks: list[_Block]) -> list[list[_Block]]:
    """Group blocks into chunk groups: a block announcing a list travels with that list."""
    groups: list[list[_Block]] = []
    for block in blocks:
        previous = groups[-1][-1] if groups else None
        if previous is not None and _continues_list(file_text, previous, block):
            groups[-1].append(block)
        else:
            groups.append([block])
    return groups


def _continues_list(file_text: str, previous: _Block, block: _Block) -> bool:
    if previous.kind in ("heading", "table", "footnote", "front") or block.kind in ("table", "footnote", "front"):
        return False
    lead_in = file_text[previous.start : previous.end].rstrip()
    announces = _announces(lead_in)
    if block.items and announces and not previous.items:
        return True
    # A run of short bullets after a lead-in ending with ":" is one list.
    short_bullet = block.kind == "bullet" and not block.items and _is_short(block)
    return short_bullet and (lead_in.endswith(":") or (previous.kind == "bullet" and _is_short(previous)))


def _announces(text: str) -> bool:
    """Whether a line or block leads into a list: "… as follows:", "the following …"."""
    text = text.rstrip()
    return text.endswith(":") or "the following" in text.lower()


def _is_short(block: _Block) -> bool:
    return block.end - block.start <= SHORT_ITEM_MAX_CHARS


def _fit(file_text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Split [start, end) at sentence boundaries into pieces of at most ``max_chars``."""
    if end - start <= max_chars:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    for s_start, s_end in split_sentences(file_text[start:end], start):
        if pieces and s_end - pieces[-1][0] <= max_chars:
            pieces[-1] = (pieces[-1][0], s_end)
        else:
            pieces.append((s_start, s_end))
    return pieces


def _fit_lines(file_text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Split [start, end) at line ends into pieces of at most ``max_chars`` (a table, at its rows)."""
    pieces: list[tuple[int, int]] = []
    for s_start, s_end in _line_spans(file_text[start:end]):
        s_start, s_end = s_start + start, s_end + start
        if pieces and s_end - pieces[-1][0] <= max_chars:
            pieces[-1] = (pieces[-1][0], s_end)
        else:
            pieces.append((s_start if pieces else start, s_end))
    return pieces or [(start, end)]


def _make_chunk(file_text, document, section, start, end, group: list[_Block]) -> Chunk:
    text = file_text[start:end]
    kind = "heading" if group[0].kind == "heading" else "paragraph"
    if group[0].kind in ("table", "footnote", "front"):
        kind = group[0].kind
    elif any(block.items for block in group) or len(group) > 1 or any(block.kind == "bullet" for block in group):
        kind = "list"
    key = f"{document.path}\0{start}\0{end}\0{text}".encode()
    return Chunk(
        chunk_id=hashlib.sha1(key).hexdigest()[:16],
        doc_id=document.doc_id,
        title=document.title,
        section=section,
        path=document.path,
        start=start,
        end=end,
        text=text,
        kind=kind,
    )


def _list_start(chunk: Chunk, file_text: str | None = None) -> int | None:
    """Offset where the items of a list chunk begin (after the sentences that lead into them)."""
    if chunk.kind != "list":
        return None
    if file_text is not None and not (chunk.section and chunk.text.startswith(chunk.section)):
        # A chunk opening with an item starts after the item's marker ("• ", "2. ", "(a) "):
        # the list begins with its first line, unless that line announces the list under it.
        line_start = file_text.rfind("\n", 0, chunk.start) + 1
        marker = _item_mark(file_text[line_start : chunk.start + 1])  # with the word after a "b. "
        if marker and marker.end() == chunk.start - line_start and not _announces(chunk.text.split("\n", 1)[0]):
            return chunk.start
    offset = 0
    for line in chunk.text.splitlines(keepends=True):
        if _item_mark(line):
            return chunk.start + offset
        offset += len(line)
    # A chunk that opens with an item (its text starts after the bullet) is a list from its first line.
    if _opens_with_heading(chunk):
        return chunk.start + len(chunk.section)
    return chunk.start


def _opens_with_heading(chunk: Chunk) -> bool:
    """Whether the chunk's text opens with its heading's line: the section's words followed by
    a line end, not a row or sentence that begins with them ("Length of stay: Less than 1 month")."""
    section = chunk.section
    return bool(section) and chunk.text.startswith(section) and chunk.text[len(section) : len(section) + 1] in ("", "\n", "\r")


def list_documents(corpus_dir: Path, max_chars: int, limits: CorpusSettings | None = None) -> list[dict]:
    """One row per document: doc_id, title, path (relative to the corpus folder), format, pages, sha256, chunks."""
    corpus = load_corpus(corpus_dir, limits)
    chunks, _ = chunk_corpus(corpus, max_chars)
    chunk_counts = Counter(chunk.doc_id for chunk in chunks)
    files = {f.path: f for f in corpus.files}
    return [
        {
            "doc_id": document.doc_id,
            "title": document.title,
            "path": document.path,
            "format": files[document.path].extracted.format,
            "pages": files[document.path].extracted.pages,
            "sha256": files[document.path].sha256,
            "chunks": chunk_counts[document.doc_id],
        }
        for document in corpus.documents
    ]

"""Chunking stage: documents → structure-aware chunks and answer-sized units with exact offsets.

The text is read as lines and grouped into blocks: headings (kept as section metadata and as
short chunks of their own, so a title can be found), paragraphs, bullets, and lists. A list keeps
its lead-in ("The importance of:") with its items, and a sentence announcing "the following" list
is kept with that list, so a list question is answered from one chunk. Offsets always point into
the stored file: ``file_text[chunk.start:chunk.end] == chunk.text``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from .corpus import Corpus
from .models import Chunk, DocumentInfo, Unit
from .readers import CODE_SHA256 as READERS_CODE_SHA256

CHUNKER_NAME = "pdqa-structure-v1"
_CODE_SHA256 = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
BULLET_RE = re.compile(r"^([ \t\u00a0]*)([•*\-–·]|\d{1,2}[.)])[ \t\u00a0]+")
BULLET_MARKS = "•·"
HEADING_MAX_CHARS = 120
SHORT_ITEM_MAX_CHARS = 120
# Titles and abbreviations after which a full stop does not end a sentence.
ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "prof", "st", "no", "vs", "etc", "e.g", "i.e", "cf", "fig"}
# One more than the longest abbreviation: `$` also matches before a newline ending the window.
_ABBREVIATION_WINDOW = max(len(a) for a in ABBREVIATIONS) + 1
_WORD_BEFORE_RE = re.compile(r"([\w.]+)$")
SENTENCE_END_RE = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'‘“(•]?[A-Z0-9])")


@dataclass
class _Line:
    start: int  # offset of the first content character (after indent and bullet marker)
    end: int  # offset after the last non-space character
    indent: int
    bullet: bool


@dataclass
class _Block:
    kind: str  # "heading", "paragraph", "bullet"
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

    The hashes of this module's and readers.py's source are included so that a change to the
    chunking or extraction rules invalidates indexes built with the old rules, without anyone
    remembering to bump a version.
    """
    return {
        "name": CHUNKER_NAME,
        "max_chars": max_chars,
        "code_sha256": _CODE_SHA256[:16],
        "readers_sha256": READERS_CODE_SHA256[:16],
    }


def chunk_corpus(corpus: Corpus, max_chars: int) -> tuple[list[Chunk], list[Unit]]:
    """Split every document of the corpus into chunks and units.

    Args:
        corpus: The loaded corpus.
        max_chars: Longest chunk; longer blocks are split at sentence boundaries.

    Returns:
        The chunks in corpus order, and the units (sentences and lists) in the same order.
    """
    chunks: list[Chunk] = []
    for document in corpus.documents:
        chunks.extend(chunk_document(corpus.text_of(document.path), document, max_chars))
    chunks = [_with_page(corpus, chunk) for chunk in chunks]
    units: list[Unit] = []
    for chunk in chunks:
        units.extend(_with_page(corpus, unit, chunk.path) for unit in units_of(chunk, start_id=len(units)))
    return chunks, units


def _with_page(corpus: Corpus, record, path: str | None = None):
    """The chunk or unit with the page it starts on (PDF files; None elsewhere)."""
    page = corpus.page_at(path or record.path, record.start)
    return record if page is None else record.model_copy(update={"page": page})


def chunk_document(file_text: str, document: DocumentInfo, max_chars: int) -> list[Chunk]:
    """Chunk one document, whose text is ``file_text[document.start:document.end]``."""
    lines = _read_lines(file_text, document.start, document.end)
    blocks = _merge_leadins(file_text, _group_blocks(file_text, lines))
    chunks: list[Chunk] = []
    section, heading = "", None
    for group in blocks:
        if group[0].kind == "heading":
            if heading is not None:  # two headings in a row: the first stands alone
                chunks.append(_make_chunk(file_text, document, section, heading.start, heading.end, [heading]))
            section, heading = file_text[group[0].start : group[0].end], group[0]
            continue
        # A heading opens the chunk that follows it, so it never competes as a bare chunk.
        start = heading.start if heading is not None else group[0].start
        heading = None
        for piece_start, end in _fit(file_text, start, group[-1].end, max_chars):
            chunks.append(_make_chunk(file_text, document, section, piece_start, end, group))
    if heading is not None:
        chunks.append(_make_chunk(file_text, document, section, heading.start, heading.end, [heading]))
    return chunks


def units_of(chunk: Chunk, start_id: int = 0) -> list[Unit]:
    """Split a chunk into answer-sized units: its heading, its sentences, any list as one unit."""
    spans: list[tuple[int, int, str]] = []
    text_start = chunk.start
    if chunk.section and chunk.text.startswith(chunk.section):
        text_start = chunk.start + len(chunk.section)
        spans.append((chunk.start, text_start, "heading"))
    list_start = _list_start(chunk)
    text_end = chunk.end if list_start is None else list_start
    body = chunk.text[text_start - chunk.start : text_end - chunk.start]
    spans += [(start, end, "sentence") for start, end in split_sentences(body, text_start)]
    if list_start is not None:
        spans.append((list_start, chunk.end, "list"))
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
    ]


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
    return word.group(1).lower() in ABBREVIATIONS


def _trim(text: str, start: int, end: int, offset: int) -> tuple[int, int]:
    # Bullet marks belong to the layout, not to the sentence a citation quotes.
    while start < end and (text[start].isspace() or text[start] in BULLET_MARKS):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in BULLET_MARKS):
        end -= 1
    return start + offset, end + offset


def _read_lines(file_text: str, start: int, end: int) -> list[_Line | None]:
    """Content lines of a region; None marks a blank line."""
    lines: list[_Line | None] = []
    position = start
    for raw in file_text[start:end].splitlines(keepends=True):
        content = raw.rstrip("\r\n")
        bullet = BULLET_RE.match(content)
        skip = bullet.end() if bullet else len(content) - len(content.lstrip(" \t\u00a0#"))
        stripped_end = len(content.rstrip())
        if stripped_end <= skip:
            lines.append(None)
        else:
            indent = len(content) - len(content.lstrip(" \t\u00a0"))
            lines.append(_Line(position + skip, position + stripped_end, indent, bool(bullet)))
        position += len(raw)
    return lines


def _group_blocks(file_text: str, lines: list[_Line | None]) -> list[_Block]:
    blocks: list[_Block] = []
    previous: _Line | None = None
    for line in lines:
        if line is None:
            previous = None
        elif line.bullet:
            blocks.append(_Block("bullet", [line]))
        elif blocks and previous is not None and blocks[-1].kind == "bullet" and (
            line.indent > blocks[-1].lines[0].indent or blocks[-1].items
        ):
            blocks[-1].items.append(line)
        elif blocks and previous is not None and blocks[-1].kind == "paragraph":
            blocks[-1].lines.append(line)
        else:
            blocks.append(_Block("paragraph", [line]))
        previous = line
    for block in blocks:
        if _looks_like_heading(file_text, block):
            block.kind = "heading"
    return blocks


def _looks_like_heading(file_text: str, block: _Block) -> bool:
    if block.kind != "paragraph" or len(block.lines) != 1:
        return False
    text = file_text[block.start : block.end]
    line_start = file_text.rfind("\n", 0, block.start) + 1
    if file_text[line_start:block.start].lstrip().startswith("#"):
        return True
    return len(text) <= HEADING_MAX_CHARS and text[-1] not in ".!?:;,"


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
    if previous.kind == "heading":
        return False
    lead_in = file_text[previous.start : previous.end].rstrip()
    announces = lead_in.endswith(":") or "the following" in lead_in.lower()
    if block.items and announces and not previous.items:
        return True
    # A run of short bullets after a lead-in ending with ":" is one list.
    short_bullet = block.kind == "bullet" and not block.items and _is_short(block)
    return short_bullet and (lead_in.endswith(":") or (previous.kind == "bullet" and _is_short(previous)))


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


def _make_chunk(file_text, document, section, start, end, group: list[_Block]) -> Chunk:
    text = file_text[start:end]
    kind = "heading" if group[0].kind == "heading" else "paragraph"
    if any(block.items for block in group) or len(group) > 1:
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


def _list_start(chunk: Chunk) -> int | None:
    """Offset where the list part of a list chunk begins (after any announcing sentence)."""
    if chunk.kind != "list":
        return None
    lines = chunk.text.split("\n")
    offset = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.endswith(":") and i + 1 < len(lines):
            return chunk.start + offset + (len(line) - len(BULLET_RE.sub("", line).lstrip()))
        offset += len(line) + 1
    return chunk.start

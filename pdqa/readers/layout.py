"""What every reader writes with: blocks of text with their pages and kinds, and table rows.

A reader hands over blocks in reading order (headings, paragraphs, list items, table rows,
footnotes); :class:`TextBuilder` joins them with blank lines and records where each page's text
begins and which spans are table rows, footnotes or the title page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..text import BULLET_MARKS

# Bullet glyphs as symbol fonts and Word export them: private-use code points of the Symbol and
# Wingdings fonts, and the Unicode bullets and boxes. All become the one list marker "•".
BULLET_GLYPHS = frozenset("\uf0b7\uf0a7\uf076\uf0d8\uf0fc\uf0a8\uf06e\uf071\uf0e0\uf0de\uf0f0\uf0be" + BULLET_MARKS + "∙⦁")
PRIVATE_USE_RE = re.compile("[\ue000-\uf8ff]")
LIST_MARK = "• "
SUPERSCRIPT_DIGITS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass
class Block:
    """One block of a document in reading order.

    Attributes:
        pieces: The block's text as (text, page) parts: one part, or more when a sentence runs
            over a page break (each part keeps its page). Parts are joined with no separator.
        kind: "heading", "paragraph", "item" (a list item), "row" (a table row), "footnote" or "front".
        level: Indent level of a list item (0 for top-level items).
    """

    pieces: list[tuple[str, int | None]]
    kind: str = "paragraph"
    level: int = 0
    meta: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.pieces)

    @property
    def page(self) -> int | None:
        return self.pieces[0][1]


class TextBuilder:
    """Joins blocks into the stored text, recording page starts and regions as it goes."""

    def __init__(self):
        self.parts: list[str] = []
        self.length = 0
        self.page_map: list[tuple[int, int]] = []
        self.regions: list[tuple[int, int, str]] = []
        self._previous_kind: str | None = None

    def add(self, block: Block) -> None:
        if not block.text.strip():
            return
        if self.parts:
            # Consecutive list items and table rows are lines of one block; all else is its own paragraph.
            same_run = block.kind == self._previous_kind and block.kind in ("item", "row")
            self._write("\n" if same_run else "\n\n", None)
        start = self.length
        prefix = ""
        if block.kind == "heading":
            prefix = "# "
        elif block.kind == "item":
            # A numbered item keeps its number ("1. …"), which marks it as an item already.
            prefix = "  " * block.level + ("" if block.meta.get("numbered") else LIST_MARK)
        self._write(prefix, block.page)
        for text, page in block.pieces:
            self._write(text, page)
        region = {"row": "table", "footnote": "footnote", "front": "front"}.get(block.kind)
        if region is not None:
            if self.regions and self.regions[-1][2] == region and self.regions[-1][1] >= start - 2 and block.kind == "row":
                self.regions[-1] = (self.regions[-1][0], self.length, region)  # one table: one region
            else:
                self.regions.append((start, self.length, region))
        self._previous_kind = block.kind

    def _write(self, text: str, page: int | None) -> None:
        if not text:
            return
        if page is not None and (not self.page_map or self.page_map[-1][1] != page):
            self.page_map.append((self.length, page))
        self.parts.append(text)
        self.length += len(text)

    @property
    def text(self) -> str:
        return "".join(self.parts) + "\n" if self.parts else ""


def table_row_text(header: list[str], cells: list[str]) -> str:
    """A table row as a unit of its own: "Column header: value; …", the first column's value alone
    when its header is empty, cells of one spanned header joined with a space.

    >>> table_row_text(["Area", "2015", "2016"], ["Crawley", "12", "14"])
    'Area: Crawley; 2015: 12; 2016: 14'
    """
    groups: list[tuple[str, list[str]]] = []
    for i, cell in enumerate(cells):
        name = header[i] if i < len(header) else ""
        if groups and name and groups[-1][0] == name and i > 0:
            groups[-1][1].append(cell)
        else:
            groups.append((name, [cell]))
    parts = []
    for name, values in groups:
        value = " ".join(v for v in values if v)
        if not value:
            continue
        parts.append(f"{name}: {value}" if name and name != value else value)
    return "; ".join(parts)


def clean_cell(text: str) -> str:
    """A cell's text on one line: spaces folded, bullet glyphs as list marks, no private-use characters."""
    text = "".join("•" if ch in BULLET_GLYPHS else ch for ch in text)
    return " ".join(PRIVATE_USE_RE.sub("", text).split())


def is_caption(text: str) -> bool:
    """A line naming a table or figure: "Table 3: …", "Figure 2.1 …", "Chart 4 – …"."""
    return bool(re.match(r"^(?:table|figure|chart|exhibit)\s+[A-Z]?\d+(?:\.\d+)*\b", text.strip(), re.IGNORECASE))


def captions_as_headings(blocks: list[Block]) -> list[Block]:
    """A paragraph naming a table ("Table 2: …") directly above its rows is their heading, so the
    rows read under their caption (their section) as a PDF's do."""
    out: list[Block] = []
    for i, block in enumerate(blocks):
        following = blocks[i + 1] if i + 1 < len(blocks) else None
        if block.kind == "paragraph" and following is not None and following.kind == "row" and is_caption(block.text):
            block = Block(block.pieces, "heading", meta={**block.meta, "caption": True})
        out.append(block)
    return out
